//! Integer adaptive bit models for the recurrent codec's codes (SPEC §2: the seed's
//! BinaryRNN role), coded with the range coder.
//!
//! Each iteration's codes are a `[c][h][w]` plane of bits (`1` for +1, `0` for −1), coded
//! in raster order (channel, row, column) into its own payload. A bit's probability
//! depends only on the bits coded before it (earlier iterations, earlier channels and
//! positions of its own), so any prefix of whole iterations decodes. Two models, named
//! by the file's entropy-model kind:
//!
//! * [`BitModel::Mixing`] (kind `BinaryMixing`, what the encoder writes): nine contexts
//!   mixed in the logistic domain ([`mixing`]'s table).
//! * [`BitModel::Counts`] (kind `Binary`, the first files): 81 shared contexts with
//!   counts ([`counts`]), kept so that those files still decode.
//!
//! Only integer arithmetic, so every target decodes the same bits.

mod counts;
mod logistic;
mod mixing;

use cvq_bitstream::coder::{IntCdf, SymbolDecoder, SymbolEncoder};
use cvq_bitstream::format::EntropyModelKind;

use crate::EntropyError;
use crate::int_context3d::MAX_POSITIONS;
use counts::CountsModel;
use mixing::{MixingModel, Planes};

pub use counts::COUNT_LIMIT;

/// Most channels per plane the bit models accept (the mixing model's tables grow with
/// them: 46 KiB per channel).
pub const MAX_CHANNELS: usize = 256;

/// Which adaptive model codes the bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BitModel {
    /// 81 shared contexts with counts, restarted every iteration (files of kind
    /// [`EntropyModelKind::Binary`]).
    Counts,
    /// Nine per-channel contexts mixed in the logistic domain, adapting across the
    /// iterations (files of kind [`EntropyModelKind::BinaryMixing`]; the default).
    Mixing,
}

impl BitModel {
    /// The model of a file's entropy-model kind (`None` for the CVQN kinds).
    pub fn of_kind(kind: EntropyModelKind) -> Option<Self> {
        match kind {
            EntropyModelKind::Binary => Some(Self::Counts),
            EntropyModelKind::BinaryMixing => Some(Self::Mixing),
            EntropyModelKind::Parallel | EntropyModelKind::Context3d => None,
        }
    }

    /// The entropy-model kind stored in files it codes.
    pub fn kind(self) -> EntropyModelKind {
        match self {
            Self::Counts => EntropyModelKind::Binary,
            Self::Mixing => EntropyModelKind::BinaryMixing,
        }
    }
}

/// The adaptive state while coding the planes of one file.
enum Predictor {
    Counts(Box<CountsModel>),
    Mixing(Box<MixingModel>),
}

impl Predictor {
    fn new(model: BitModel, channels: usize) -> Self {
        match model {
            BitModel::Counts => Self::Counts(Box::new(CountsModel::new())),
            BitModel::Mixing => Self::Mixing(Box::new(MixingModel::new(channels))),
        }
    }

    /// Called before each plane (the counts restart).
    fn start_plane(&mut self) {
        if let Self::Counts(m) = self {
            **m = CountsModel::new();
        }
    }

    /// Weights `[w0, w1]` of bit `pos` of `current`, given the earlier planes.
    fn weights<P: AsRef<[u8]>>(
        &mut self,
        current: &[u8],
        earlier: &[P],
        shape: (usize, usize, usize),
        pos: (usize, usize, usize),
    ) -> [u32; 2] {
        let back = |k: usize| earlier.len().checked_sub(k).map(|i| earlier[i].as_ref());
        match self {
            Self::Counts(m) => m.predict(current, back(1), (shape.1, shape.2), pos),
            Self::Mixing(m) => {
                let planes = Planes {
                    current,
                    before: [back(1), back(2), back(3)],
                    shape,
                    iteration: earlier.len(),
                };
                let p1 = m.predict(&planes, pos);
                [4096 - p1, p1]
            }
        }
    }

    fn update(&mut self, bit: u8) {
        match self {
            Self::Counts(m) => m.update(bit),
            Self::Mixing(m) => m.update(bit),
        }
    }
}

/// `c·h·w` after checking the limits.
fn positions(c: usize, h: usize, w: usize) -> Result<usize, EntropyError> {
    c.checked_mul(h)
        .and_then(|v| v.checked_mul(w))
        .filter(|&n| n > 0 && n <= MAX_POSITIONS && c <= MAX_CHANNELS)
        .ok_or(EntropyError::TooLarge { c, h, w })
}

/// Every position of a plane in coding order, which is also its storage order.
fn raster((c, h, w): (usize, usize, usize)) -> impl Iterator<Item = (usize, usize, usize)> {
    (0..c).flat_map(move |ch| (0..h).flat_map(move |y| (0..w).map(move |x| (ch, y, x))))
}

/// Codes the bit planes of a file's iterations (each `c·h·w` values `0`/`1`, raster
/// order), one payload per plane; payload `t` depends only on planes `0..=t`.
///
/// # Errors
///
/// [`EntropyError::TooLarge`] (also beyond [`MAX_CHANNELS`]),
/// [`EntropyError::LengthMismatch`] for planes that are not `c·h·w` long,
/// [`EntropyError::SymbolOutOfRange`] for a value other than 0 or 1.
pub fn encode_planes(
    planes: &[&[u8]],
    shape: (usize, usize, usize),
    model: BitModel,
) -> Result<Vec<Vec<u8>>, EntropyError> {
    let n = positions(shape.0, shape.1, shape.2)?;
    for plane in planes {
        if plane.len() != n {
            return Err(EntropyError::LengthMismatch {
                expected: n,
                got: plane.len(),
            });
        }
        if let Some(position) = plane.iter().position(|&b| b > 1) {
            return Err(EntropyError::SymbolOutOfRange {
                position,
                symbol: usize::from(plane[position]),
                levels: 2,
            });
        }
    }
    let mut predictor = Predictor::new(model, shape.0);
    let mut cdf = IntCdf::uniform(2).expect("two symbols");
    let mut payloads = Vec::with_capacity(planes.len());
    for (t, plane) in planes.iter().enumerate() {
        predictor.start_plane();
        let mut enc = SymbolEncoder::new();
        for (i, pos) in raster(shape).enumerate() {
            cdf.set_weights(&predictor.weights(plane, &planes[..t], shape, pos))?;
            enc.encode(usize::from(plane[i]), &cdf)?;
            predictor.update(plane[i]);
        }
        payloads.push(enc.finish());
    }
    Ok(payloads)
}

/// Decodes the bit planes of a file's leading iterations, one per payload (see
/// [`encode_planes`]).
///
/// # Errors
///
/// [`EntropyError::TooLarge`]; a damaged or truncated payload gives a coder error or
/// wrong bits, never a panic.
pub fn decode_planes(
    payloads: &[&[u8]],
    shape: (usize, usize, usize),
    model: BitModel,
) -> Result<Vec<Vec<u8>>, EntropyError> {
    let n = positions(shape.0, shape.1, shape.2)?;
    let mut predictor = Predictor::new(model, shape.0);
    let mut cdf = IntCdf::uniform(2).expect("two symbols");
    let mut planes: Vec<Vec<u8>> = Vec::with_capacity(payloads.len());
    for payload in payloads {
        predictor.start_plane();
        let mut plane = vec![0u8; n];
        let mut dec = SymbolDecoder::new(payload);
        for (i, pos) in raster(shape).enumerate() {
            cdf.set_weights(&predictor.weights(&plane, &planes, shape, pos))?;
            plane[i] = dec.decode(&cdf)? as u8;
            predictor.update(plane[i]);
        }
        planes.push(plane);
    }
    Ok(planes)
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

    const MODELS: [BitModel; 2] = [BitModel::Counts, BitModel::Mixing];

    fn refs(planes: &[Vec<u8>]) -> Vec<&[u8]> {
        planes.iter().map(Vec::as_slice).collect()
    }

    #[test]
    fn iterations_round_trip_and_code_below_raw() {
        let (c, h, w) = (8, 12, 17);
        let planes = planes(c, h, w, 4);
        for model in MODELS {
            let payloads = encode_planes(&refs(&planes), (c, h, w), model).unwrap();
            let bytes: usize = payloads.iter().map(Vec::len).sum();
            assert_eq!(
                decode_planes(&refs(&payloads), (c, h, w), model).unwrap(),
                planes
            );
            let raw = 4 * c * h * w / 8;
            assert!(
                bytes * 10 < raw * 8,
                "{model:?}: {bytes} bytes vs {raw} raw"
            );
            // Any prefix of whole iterations decodes to the leading planes.
            for k in 0..planes.len() {
                let prefix = decode_planes(&refs(&payloads[..k]), (c, h, w), model).unwrap();
                assert_eq!(prefix, planes[..k]);
            }
        }
    }

    #[test]
    fn mixing_learns_what_the_channels_share() {
        // Channel 2k+1 repeats channel 2k: the mixing model sees the channel above, the
        // counts do not.
        let (c, h, w) = (8, 16, 16);
        let mut planes = planes(c, h, w, 2);
        for plane in &mut planes {
            for ch in (1..c).step_by(2) {
                let (a, b) = plane.split_at_mut(ch * h * w);
                b[..h * w].copy_from_slice(&a[(ch - 1) * h * w..]);
            }
        }
        let size = |model| -> usize {
            encode_planes(&refs(&planes), (c, h, w), model)
                .unwrap()
                .iter()
                .map(Vec::len)
                .sum()
        };
        let (counts, mixing) = (size(BitModel::Counts), size(BitModel::Mixing));
        assert!(
            mixing * 10 < counts * 8,
            "mixing {mixing} vs counts {counts} bytes"
        );
    }

    #[test]
    fn kinds_name_their_models() {
        for model in MODELS {
            assert_eq!(BitModel::of_kind(model.kind()), Some(model));
        }
        assert_eq!(BitModel::of_kind(EntropyModelKind::Parallel), None);
        assert_eq!(BitModel::of_kind(EntropyModelKind::Context3d), None);
    }

    /// Integer-only coding: the payload is a fixed function of the bits on every target
    /// (this test also runs on wasm32 in CI). The counts' golden values are those of the
    /// first files, so they still decode.
    #[test]
    fn payload_is_the_same_on_every_target() {
        let planes = planes(4, 8, 8, 2);
        let digest = |v: &[u8]| {
            v.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &x| {
                (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
            })
        };
        for (model, golden) in [
            (BitModel::Counts, GOLDEN),
            (BitModel::Mixing, GOLDEN_MIXING),
        ] {
            let p = encode_planes(&refs(&planes), (4, 8, 8), model).unwrap();
            let got = (p[0].len(), p[1].len(), digest(&p[0]), digest(&p[1]));
            assert_eq!(got, golden, "{model:?}");
        }
    }

    /// Lengths and FNV-1a digests of `payload_is_the_same_on_every_target`'s payloads,
    /// recorded on x86-64.
    const GOLDEN: (usize, usize, u64, u64) = (28, 20, 17998286242003065668, 14368051666528910765);
    const GOLDEN_MIXING: (usize, usize, u64, u64) =
        (32, 20, 17467152389542794643, 8138285550547203867);

    #[test]
    fn bad_input_is_a_typed_error() {
        for model in MODELS {
            let plane = vec![0u8, 1, 2, 0];
            assert!(matches!(
                encode_planes(&[&plane], (1, 2, 2), model),
                Err(EntropyError::SymbolOutOfRange { position: 2, .. })
            ));
            assert!(matches!(
                encode_planes(&[&[0, 1]], (1, 2, 2), model),
                Err(EntropyError::LengthMismatch { .. })
            ));
            assert!(matches!(
                decode_planes(&[&[]], (usize::MAX, 2, 2), model),
                Err(EntropyError::TooLarge { .. })
            ));
            assert!(matches!(
                decode_planes(&[&[]], (MAX_CHANNELS + 1, 1, 1), model),
                Err(EntropyError::TooLarge { .. })
            ));
            // Damaged payloads decode to something or fail, never panic.
            let planes = planes(2, 6, 6, 2);
            let payloads = encode_planes(&refs(&planes), (2, 6, 6), model).unwrap();
            let whole = payloads.concat();
            for cut in 0..whole.len() {
                let (a, b) = whole.split_at(cut);
                let _ = decode_planes(&[a, b], (2, 6, 6), model);
            }
            for i in 0..whole.len() {
                let mut p = whole.clone();
                p[i] ^= 0x5a;
                let (a, b) = p.split_at(payloads[0].len());
                let _ = decode_planes(&[a, b], (2, 6, 6), model);
            }
        }
    }
}
