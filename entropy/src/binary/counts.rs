//! The first bit model ([`BitModel::Counts`](super::BitModel::Counts), files written
//! before the mixing model): 81 contexts shared by all channels, from the already-coded
//! bits left, above and above-left of a bit in its channel and the co-located bit of the
//! previous iteration (each absent, `0` or `1`: 3⁴). Each context keeps integer counts
//! that start at one each and are halved when their sum reaches [`COUNT_LIMIT`]; the
//! probability of a `1` is `n1 / (n0 + n1)`. The counts restart for every iteration.

/// Counts of a context are halved when their sum reaches this (adapts to the plane).
pub const COUNT_LIMIT: u32 = 1 << 10;

const CONTEXTS: usize = 81;

/// The adaptive state of one iteration's coding.
pub(super) struct CountsModel {
    n: [[u32; 2]; CONTEXTS],
    ctx: usize,
}

/// `0` absent, `1 + bit` present.
fn state(bit: Option<u8>) -> usize {
    bit.map_or(0, |b| 1 + usize::from(b))
}

impl CountsModel {
    pub fn new() -> Self {
        Self {
            n: [[1, 1]; CONTEXTS],
            ctx: 0,
        }
    }

    /// The counts `[n0, n1]` of bit `(ch, y, x)` of `plane` (bits before it valid), given
    /// the previous iteration's plane.
    pub fn predict(
        &mut self,
        plane: &[u8],
        prev: Option<&[u8]>,
        (h, w): (usize, usize),
        (ch, y, x): (usize, usize, usize),
    ) -> [u32; 2] {
        let at = |yy: usize, xx: usize| plane[(ch * h + yy) * w + xx];
        let left = (x > 0).then(|| at(y, x - 1));
        let up = (y > 0).then(|| at(y - 1, x));
        let up_left = (x > 0 && y > 0).then(|| at(y - 1, x - 1));
        let before = prev.map(|p| p[(ch * h + y) * w + x]);
        self.ctx = ((state(left) * 3 + state(up)) * 3 + state(up_left)) * 3 + state(before);
        self.n[self.ctx]
    }

    /// Counts the coded `bit` of the last [`Self::predict`].
    pub fn update(&mut self, bit: u8) {
        let n = &mut self.n[self.ctx];
        n[usize::from(bit)] += 1;
        if n[0] + n[1] >= COUNT_LIMIT {
            n[0] = n[0].div_ceil(2);
            n[1] = n[1].div_ceil(2);
        }
    }
}
