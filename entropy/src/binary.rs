//! Integer adaptive binary context model for the recurrent codec's bits (SPEC §2: the
//! seed's BinaryRNN role), coded with the range coder.
//!
//! Each iteration's codes are a `[c][h][w]` plane of bits (`1` for +1, `0` for −1), coded
//! in raster order (channel, row, column) into its own payload, so that any prefix of
//! whole iterations decodes. A bit's context is the already-coded bits left, above and
//! above-left of it in the same channel of the same iteration, and the co-located bit
//! of the previous iteration (each `absent`, `0` or `1`: 3⁴ = 81 contexts). Each context
//! keeps integer counts that start at one each and are halved when they reach
//! [`COUNT_LIMIT`]; the probability of a `1` is `n1 / (n0 + n1)` quantised to 16 bits by
//! [`IntCdf::from_weights`]. Only integer arithmetic, so every target decodes the same
//! bits. The model restarts for every iteration.

use cvq_bitstream::coder::{IntCdf, SymbolDecoder, SymbolEncoder};

use crate::EntropyError;
use crate::int_context3d::MAX_POSITIONS;

/// Counts of a context are halved when their sum reaches this (adapts to the plane).
pub const COUNT_LIMIT: u32 = 1 << 10;

const CONTEXTS: usize = 81;

/// The adaptive state of one iteration's coding.
struct Counts {
    n: [[u32; 2]; CONTEXTS],
    cdf: IntCdf,
}

impl Counts {
    fn new() -> Self {
        Self {
            n: [[1, 1]; CONTEXTS],
            cdf: IntCdf::uniform(2).expect("two symbols"),
        }
    }

    /// The distribution of context `ctx`.
    fn cdf(&mut self, ctx: usize) -> Result<&IntCdf, EntropyError> {
        self.cdf.set_weights(&self.n[ctx])?;
        Ok(&self.cdf)
    }

    fn update(&mut self, ctx: usize, bit: usize) {
        let n = &mut self.n[ctx];
        n[bit] += 1;
        if n[0] + n[1] >= COUNT_LIMIT {
            n[0] = n[0].div_ceil(2);
            n[1] = n[1].div_ceil(2);
        }
    }
}

/// `0` absent, `1 + bit` present.
fn state(bit: Option<u8>) -> usize {
    bit.map_or(0, |b| 1 + usize::from(b))
}

/// The context of bit `(ch, y, x)` of `plane` (`c·h·w`, bits coded so far valid) given
/// the previous iteration's plane.
fn context(
    plane: &[u8],
    prev: Option<&[u8]>,
    (h, w): (usize, usize),
    ch: usize,
    y: usize,
    x: usize,
) -> usize {
    let at = |yy: usize, xx: usize| plane[(ch * h + yy) * w + xx];
    let left = (x > 0).then(|| at(y, x - 1));
    let up = (y > 0).then(|| at(y - 1, x));
    let up_left = (x > 0 && y > 0).then(|| at(y - 1, x - 1));
    let before = prev.map(|p| p[(ch * h + y) * w + x]);
    ((state(left) * 3 + state(up)) * 3 + state(up_left)) * 3 + state(before)
}

fn check(
    c: usize,
    h: usize,
    w: usize,
    len: usize,
    prev: Option<&[u8]>,
) -> Result<usize, EntropyError> {
    let n = c
        .checked_mul(h)
        .and_then(|v| v.checked_mul(w))
        .filter(|&n| n > 0 && n <= MAX_POSITIONS)
        .ok_or(EntropyError::TooLarge { c, h, w })?;
    for got in std::iter::once(len).chain(prev.map(<[u8]>::len)) {
        if got != n {
            return Err(EntropyError::LengthMismatch { expected: n, got });
        }
    }
    Ok(n)
}

/// Codes one iteration's bit plane (`c·h·w` values `0`/`1`, raster order) given the
/// previous iteration's plane (`None` for the first iteration).
///
/// # Errors
///
/// [`EntropyError::TooLarge`], [`EntropyError::LengthMismatch`] for planes that are not
/// `c·h·w` long, [`EntropyError::SymbolOutOfRange`] for a value other than 0 or 1.
pub fn encode_bits(
    plane: &[u8],
    prev: Option<&[u8]>,
    (c, h, w): (usize, usize, usize),
) -> Result<Vec<u8>, EntropyError> {
    check(c, h, w, plane.len(), prev)?;
    if let Some(position) = plane.iter().position(|&b| b > 1) {
        return Err(EntropyError::SymbolOutOfRange {
            position,
            symbol: usize::from(plane[position]),
            levels: 2,
        });
    }
    let mut counts = Counts::new();
    let mut enc = SymbolEncoder::new();
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                let ctx = context(plane, prev, (h, w), ch, y, x);
                let bit = usize::from(plane[(ch * h + y) * w + x]);
                enc.encode(bit, counts.cdf(ctx)?)?;
                counts.update(ctx, bit);
            }
        }
    }
    Ok(enc.finish())
}

/// Decodes one iteration's bit plane from its payload (see [`encode_bits`]).
///
/// # Errors
///
/// As [`encode_bits`]; a damaged or truncated payload gives a coder error or wrong bits,
/// never a panic.
pub fn decode_bits(
    payload: &[u8],
    prev: Option<&[u8]>,
    (c, h, w): (usize, usize, usize),
) -> Result<Vec<u8>, EntropyError> {
    let n = check(c, h, w, c.saturating_mul(h).saturating_mul(w), prev)?;
    let mut plane = vec![0u8; n];
    let mut counts = Counts::new();
    let mut dec = SymbolDecoder::new(payload);
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                let ctx = context(&plane, prev, (h, w), ch, y, x);
                let bit = dec.decode(counts.cdf(ctx)?)?;
                plane[(ch * h + y) * w + x] = bit as u8;
                counts.update(ctx, bit);
            }
        }
    }
    Ok(plane)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic plane with structure: runs along rows, repeated from iteration to
    /// iteration with a few flips.
    fn planes(c: usize, h: usize, w: usize, iterations: usize) -> Vec<Vec<u8>> {
        let mut state = 0x2545_f491_u32;
        let mut rand = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let mut out: Vec<Vec<u8>> = Vec::new();
        for t in 0..iterations {
            let mut p = vec![0u8; c * h * w];
            for (i, v) in p.iter_mut().enumerate() {
                *v = match out.last() {
                    Some(prev) if rand() % 8 != 0 => prev[i],
                    _ => u8::from((i / 5 + t) % 3 == 0) ^ u8::from(rand() % 16 == 0),
                };
            }
            out.push(p);
        }
        out
    }

    #[test]
    fn iterations_round_trip_and_code_below_raw() {
        let (c, h, w) = (8, 12, 17);
        let planes = planes(c, h, w, 4);
        let mut prev: Option<&[u8]> = None;
        let mut bytes = 0;
        for plane in &planes {
            let payload = encode_bits(plane, prev, (c, h, w)).unwrap();
            bytes += payload.len();
            assert_eq!(&decode_bits(&payload, prev, (c, h, w)).unwrap(), plane);
            prev = Some(plane);
        }
        let raw = 4 * c * h * w / 8;
        assert!(bytes * 10 < raw * 8, "{bytes} bytes vs {raw} raw");
    }

    /// Integer-only coding: the payload is a fixed function of the bits on every target
    /// (this test also runs on wasm32 in CI).
    #[test]
    fn payload_is_the_same_on_every_target() {
        let planes = planes(4, 8, 8, 2);
        let a = encode_bits(&planes[0], None, (4, 8, 8)).unwrap();
        let b = encode_bits(&planes[1], Some(&planes[0]), (4, 8, 8)).unwrap();
        let digest = |v: &[u8]| {
            v.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &x| {
                (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
            })
        };
        assert_eq!((a.len(), b.len(), digest(&a), digest(&b)), GOLDEN);
    }

    /// Lengths and FNV-1a digests of `payload_is_the_same_on_every_target`'s payloads,
    /// recorded on x86-64.
    const GOLDEN: (usize, usize, u64, u64) = (28, 20, 17998286242003065668, 14368051666528910765);

    #[test]
    fn bad_input_is_a_typed_error() {
        let plane = vec![0u8, 1, 2, 0];
        assert!(matches!(
            encode_bits(&plane, None, (1, 2, 2)),
            Err(EntropyError::SymbolOutOfRange { position: 2, .. })
        ));
        assert!(matches!(
            encode_bits(&[0, 1], None, (1, 2, 2)),
            Err(EntropyError::LengthMismatch { .. })
        ));
        assert!(matches!(
            decode_bits(&[], Some(&[0, 1]), (1, 2, 2)),
            Err(EntropyError::LengthMismatch { .. })
        ));
        assert!(matches!(
            decode_bits(&[], None, (usize::MAX, 2, 2)),
            Err(EntropyError::TooLarge { .. })
        ));
        // Damaged payloads decode to something or fail, never panic.
        let planes = planes(2, 6, 6, 1);
        let payload = encode_bits(&planes[0], None, (2, 6, 6)).unwrap();
        for cut in 0..payload.len() {
            let _ = decode_bits(&payload[..cut], None, (2, 6, 6));
        }
        for i in 0..payload.len() {
            let mut p = payload.clone();
            p[i] ^= 0x5a;
            let _ = decode_bits(&p, None, (2, 6, 6));
        }
    }
}
