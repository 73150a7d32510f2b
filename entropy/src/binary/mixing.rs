//! The context-mixing bit model ([`BitModel::Mixing`](super::BitModel::Mixing)).
//!
//! Nine contexts, each a small neighbourhood of already-coded bits, index nine tables of
//! adaptive probabilities; a logistic mixer (one weight set per channel and iteration
//! 1, 2, 3, ≥ 4) combines their log-odds into the coded probability and learns its
//! weights online, as in lpaq. Every table is kept per channel (the binarizer's
//! channels have their own statistics), and the state carries over from one iteration
//! to the next. The contexts of bit `(ch, y, x)` of iteration `t`, with `·` the bit's
//! own position:
//!
//! | # | bits | size per channel |
//! |---|---|---|
//! | 0 | left, up, up-left; `t−1` at `·` | 3⁴ |
//! | 1 | the iteration `t` itself (up to 15) | 16 |
//! | 2 | `t−1` at `·` and its four neighbours | 3⁵ |
//! | 3 | channels `ch−1 … ch−6` at `·`; left, up | 2⁷ · 3² |
//! | 4 | `t−1`, `t−2`, `t−3` at `·` | 3³ |
//! | 5 | left, up, up-right, two left, two up | 3⁵ |
//! | 6 | channel `ch−1` at `·` and its four neighbours | 3⁵ |
//! | 7 | channels `ch−1 … ch−12` at `·` | 2¹³ |
//! | 8 | channels `ch−1 … ch−8` at `·`; `t−1` at `·` | 2⁹ · 3 |
//!
//! A neighbour is absent (`0`), or its bit plus one; the "channels at `·`" contexts are
//! the earlier channels' bits at this position behind a leading one (fewer than `n`
//! channels before `ch` give a shorter, distinct key). On the Kodak codes of
//! `cvq-rnn`, this model takes 20 % fewer bits than the 81-context counts of
//! [`BitModel::Counts`](super::BitModel::Counts).

use super::logistic::{MAX_LOGIT, squash, stretch};

/// Context table sizes per channel (see the module table).
const SIZES: [usize; 9] = [81, 16, 243, 128 * 9, 27, 243, 243, 1 << 13, 512 * 3];

/// Inputs of the mixer: the nine contexts and a constant bias.
const INPUTS: usize = SIZES.len() + 1;

/// A probability state stops speeding up its adaptation after this many updates.
const COUNT_LIMIT: u32 = 255;

/// The bias input (0.3 in log-odds, 1/256 units).
const BIAS: i32 = 77;

/// Initial weight of a context input (0.3, 16 fractional bits); the bias starts at 0.
const INITIAL_WEIGHT: i32 = 19_661;

/// Weights stay within ±122 (16 fractional bits), so the mixer's sums fit `i64`.
const MAX_WEIGHT: i32 = 8_000_000;

/// One adaptive probability of a `1` (16 bits) and how often it was updated.
#[derive(Clone, Copy)]
struct Probability {
    p: u16,
    n: u16,
}

impl Probability {
    const START: Self = Self { p: 1 << 15, n: 0 };

    /// Moves the probability toward `bit` by `1 / (n + 1/2)` of the distance.
    fn update(&mut self, bit: u8) {
        self.n = (self.n + 1).min(COUNT_LIMIT as u16);
        let p = i32::from(self.p);
        let target = i32::from(bit) << 16;
        let next = p + (target - p) * 2 / (2 * i32::from(self.n) + 1);
        self.p = next.clamp(64, 65_472) as u16;
    }
}

/// The planes a bit's context is read from.
pub(super) struct Planes<'a> {
    /// The plane being coded (bits before the current one are valid).
    pub current: &'a [u8],
    /// Iterations `t − 1`, `t − 2`, `t − 3`, where they exist.
    pub before: [Option<&'a [u8]>; 3],
    /// `(c, h, w)`.
    pub shape: (usize, usize, usize),
    /// Iteration index `t` (from 0).
    pub iteration: usize,
}

impl Planes<'_> {
    /// `1 + bit` at `(ch, y + dy, x + dx)` of `plane`, `0` outside it.
    fn at(
        plane: Option<&[u8]>,
        (c, h, w): (usize, usize, usize),
        ch: usize,
        y: isize,
        x: isize,
    ) -> usize {
        match plane {
            Some(p) if ch < c && y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w => {
                1 + usize::from(p[(ch * h + y as usize) * w + x as usize])
            }
            _ => 0,
        }
    }

    /// A neighbour in the current plane, `0` where it is not coded yet.
    fn here(&self, pos: (usize, usize, usize), dch: isize, dy: isize, dx: isize) -> usize {
        let (ch, y, x) = pos;
        let Some(c2) = ch.checked_add_signed(dch) else {
            return 0;
        };
        let (y2, x2) = (y as isize + dy, x as isize + dx);
        if (c2, y2, x2) >= (ch, y as isize, x as isize) {
            return 0;
        }
        Self::at(Some(self.current), self.shape, c2, y2, x2)
    }

    /// A neighbour in iteration `t − k` (`k` = 1, 2, 3).
    fn earlier(&self, k: usize, (ch, y, x): (usize, usize, usize), dy: isize, dx: isize) -> usize {
        Self::at(
            self.before[k - 1],
            self.shape,
            ch,
            y as isize + dy,
            x as isize + dx,
        )
    }

    /// The bits of channels `ch − 1 … ch − n` at `(y, x)` behind a leading one.
    fn channels(&self, (ch, y, x): (usize, usize, usize), n: usize) -> usize {
        let (_, h, w) = self.shape;
        let mut key = 1;
        for d in 1..=n.min(ch) {
            key = key * 2 + usize::from(self.current[((ch - d) * h + y) * w + x]);
        }
        key
    }

    /// The nine context indices of bit `pos` (each below its [`SIZES`] entry).
    fn contexts(&self, pos: (usize, usize, usize)) -> [usize; 9] {
        let h = |dch, dy, dx| self.here(pos, dch, dy, dx);
        let e = |k, dy, dx| self.earlier(k, pos, dy, dx);
        let mix = |digits: &[usize]| digits.iter().fold(0, |k, &d| k * 3 + d);
        [
            mix(&[h(0, 0, -1), h(0, -1, 0), h(0, -1, -1), e(1, 0, 0)]),
            self.iteration.min(15),
            mix(&[e(1, 0, 0), e(1, 0, -1), e(1, 0, 1), e(1, -1, 0), e(1, 1, 0)]),
            (self.channels(pos, 6) * 3 + h(0, 0, -1)) * 3 + h(0, -1, 0),
            mix(&[e(1, 0, 0), e(2, 0, 0), e(3, 0, 0)]),
            mix(&[
                h(0, 0, -1),
                h(0, -1, 0),
                h(0, -1, 1),
                h(0, 0, -2),
                h(0, -2, 0),
            ]),
            mix(&[
                h(-1, 0, 0),
                h(-1, 0, 1),
                h(-1, 1, 0),
                h(-1, 0, -1),
                h(-1, -1, 0),
            ]),
            self.channels(pos, 12),
            self.channels(pos, 8) * 3 + e(1, 0, 0),
        ]
    }
}

/// The adaptive state of the mixing model for one file (all its iterations).
pub(super) struct MixingModel {
    channels: usize,
    tables: Vec<Vec<Probability>>,
    weights: Vec<[i32; INPUTS]>,
    /// The last prediction: table slots, mixer inputs, weight set, probability.
    slots: [usize; 9],
    inputs: [i32; INPUTS],
    set: usize,
    p: i32,
}

impl MixingModel {
    /// A fresh model for planes of `channels` channels (its tables take
    /// `4 · 11,733 · channels` bytes).
    pub fn new(channels: usize) -> Self {
        let mut initial = [INITIAL_WEIGHT; INPUTS];
        initial[INPUTS - 1] = 0;
        Self {
            channels,
            tables: SIZES
                .iter()
                .map(|&n| vec![Probability::START; n * channels])
                .collect(),
            weights: vec![initial; 4 * channels],
            slots: [0; 9],
            inputs: [0; INPUTS],
            set: 0,
            p: 2048,
        }
    }

    /// The 12-bit probability (`1..=4095`) that bit `pos` of `planes` is a `1`.
    pub fn predict(&mut self, planes: &Planes, pos: (usize, usize, usize)) -> u32 {
        let ch = pos.0;
        for (i, ctx) in planes.contexts(pos).into_iter().enumerate() {
            self.slots[i] = ctx * self.channels + ch;
            self.inputs[i] = stretch(self.tables[i][self.slots[i]].p >> 4);
        }
        self.inputs[INPUTS - 1] = BIAS;
        self.set = planes.iteration.min(3) * self.channels + ch;
        let w = &self.weights[self.set];
        let dot: i64 = self
            .inputs
            .iter()
            .zip(w)
            .map(|(&x, &w)| i64::from(x) * i64::from(w))
            .sum();
        let d = (dot >> 16).clamp(-i64::from(MAX_LOGIT), i64::from(MAX_LOGIT)) as i32;
        self.p = squash(d);
        self.p as u32
    }

    /// Learns from the coded `bit` of the last [`Self::predict`].
    pub fn update(&mut self, bit: u8) {
        let err = (i32::from(bit) << 12) - self.p;
        for (w, &x) in self.weights[self.set].iter_mut().zip(&self.inputs) {
            // Learning rate 0.02 in probability × log-odds units: 65536 · 0.02 / (4096 · 256).
            *w = (*w + (err * x) / 800).clamp(-MAX_WEIGHT, MAX_WEIGHT);
        }
        for (table, &slot) in self.tables.iter_mut().zip(&self.slots) {
            table[slot].update(bit);
        }
    }
}
