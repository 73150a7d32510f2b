//! Symbol-at-a-time range encoder / decoder over byte payloads.

use core::convert::Infallible;

use constriction::backends::ReadWords;
use constriction::stream::queue::{DecoderFrontendError, DefaultRangeEncoder, RangeDecoder};
use constriction::stream::{Decode, Encode};
use constriction::{CoderError as CcError, Queue};

use super::{CoderError, IntCdf};

/// Range encoder that turns a sequence of `(symbol, distribution)` pairs into
/// a byte payload. Each symbol may use a different [`IntCdf`].
///
/// See the [module documentation](super) for the byte representation.
#[derive(Debug, Default)]
pub struct SymbolEncoder {
    inner: DefaultRangeEncoder,
    num_symbols: u64,
}

impl SymbolEncoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes `symbol` with distribution `cdf`.
    ///
    /// # Errors
    ///
    /// [`CoderError::SymbolOutOfRange`] if `symbol >= cdf.num_symbols()`; the
    /// encoder is unchanged in that case.
    #[inline]
    pub fn encode(&mut self, symbol: usize, cdf: &IntCdf) -> Result<(), CoderError> {
        match Encode::<16>::encode_symbol(&mut self.inner, symbol, cdf) {
            Ok(()) => {
                self.num_symbols += 1;
                Ok(())
            }
            Err(_) => Err(CoderError::SymbolOutOfRange {
                symbol,
                num_symbols: cdf.num_symbols(),
            }),
        }
    }

    /// Encodes every symbol of `symbols` with the same distribution `cdf`.
    ///
    /// # Errors
    ///
    /// [`CoderError::SymbolOutOfRange`] for the first offending symbol (the
    /// symbols before it have been encoded).
    pub fn encode_all(&mut self, symbols: &[usize], cdf: &IntCdf) -> Result<(), CoderError> {
        symbols.iter().try_for_each(|&s| self.encode(s, cdf))
    }

    /// Number of symbols encoded so far.
    pub fn num_symbols(&self) -> u64 {
        self.num_symbols
    }

    /// Seals the stream and returns the payload bytes (32-bit words as
    /// little-endian bytes, trailing zero bytes removed).
    pub fn finish(self) -> Vec<u8> {
        let words: Vec<u32> = match self.inner.into_compressed() {
            Ok(words) => words,
            Err(never) => match never {},
        };
        let mut bytes = Vec::with_capacity(words.len() * 4);
        for w in words {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        while bytes.last() == Some(&0) {
            bytes.pop();
        }
        bytes
    }
}

/// Reads little-endian 32-bit words from a byte slice; a final partial word
/// is zero-padded in its high bytes. Fused: `None` forever once exhausted.
#[derive(Debug, Clone)]
struct LeWords<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl ReadWords<u32, Queue> for LeWords<'_> {
    type ReadError = Infallible;

    #[inline]
    fn read(&mut self) -> Result<Option<u32>, Infallible> {
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        if let Some(chunk) = rest.first_chunk::<4>() {
            self.pos += 4;
            return Ok(Some(u32::from_le_bytes(*chunk)));
        }
        if rest.is_empty() {
            return Ok(None);
        }
        let mut buf = [0u8; 4];
        for (dst, src) in buf.iter_mut().zip(rest) {
            *dst = *src;
        }
        self.pos = self.bytes.len();
        Ok(Some(u32::from_le_bytes(buf)))
    }

    fn maybe_exhausted(&self) -> bool {
        self.pos >= self.bytes.len()
    }
}

/// Range decoder that reads symbols one at a time from a byte payload, each
/// with a caller-supplied [`IntCdf`] (which may depend on the symbols decoded
/// so far). Symbols come out in the order they were encoded.
///
/// Decoding never panics, whatever the input bytes: garbage decodes to
/// *some* symbols (or [`CoderError::InvalidData`]), and reading beyond the end
/// of the payload behaves as if it were followed by zero bytes. Integrity of
/// payloads is the job of the container's CRC32.
#[derive(Debug, Clone)]
pub struct SymbolDecoder<'a> {
    inner: RangeDecoder<u32, u64, LeWords<'a>>,
}

impl<'a> SymbolDecoder<'a> {
    /// A decoder reading from `bytes` (any length; see the
    /// [module documentation](super)).
    pub fn new(bytes: &'a [u8]) -> Self {
        let backend = LeWords { bytes, pos: 0 };
        let inner = match RangeDecoder::with_backend(backend) {
            Ok(inner) => inner,
            Err(never) => match never {},
        };
        Self { inner }
    }

    /// Decodes the next symbol with distribution `cdf`. The result is always
    /// `< cdf.num_symbols()`.
    ///
    /// # Errors
    ///
    /// [`CoderError::InvalidData`] if the decoder state is inconsistent with
    /// the compressed data (can only happen on corrupt input).
    #[inline]
    pub fn decode(&mut self, cdf: &IntCdf) -> Result<usize, CoderError> {
        match Decode::<16>::decode_symbol(&mut self.inner, cdf) {
            Ok(s) => Ok(s),
            Err(CcError::Frontend(DecoderFrontendError::InvalidData)) => {
                Err(CoderError::InvalidData)
            }
            // `DecoderFrontendError` is non-exhaustive; treat anything else as
            // corrupt data as well.
            Err(CcError::Frontend(_)) => Err(CoderError::InvalidData),
            Err(CcError::Backend(never)) => match never {},
        }
    }

    /// Decodes `count` symbols that all use the same distribution `cdf`.
    ///
    /// # Errors
    ///
    /// See [`SymbolDecoder::decode`].
    pub fn decode_all(&mut self, count: usize, cdf: &IntCdf) -> Result<Vec<usize>, CoderError> {
        // Do not trust `count` for the allocation size.
        let mut out = Vec::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            out.push(self.decode(cdf)?);
        }
        Ok(out)
    }

    /// Best-effort end-of-stream check, to be called after the last symbol:
    /// a decoder that has read every symbol of a stream produced by
    /// [`SymbolEncoder`] has consumed all of its bytes (the decoder reads the
    /// same number of words as the encoder wrote, plus its look-ahead).
    ///
    /// # Errors
    ///
    /// [`CoderError::TrailingData`] if some payload bytes were never read
    /// (fewer symbols decoded than encoded, or extra bytes appended). Not
    /// every such mismatch is detectable.
    pub fn finish(self) -> Result<(), CoderError> {
        let (backend, _, _) = self.inner.into_raw_parts();
        let unread_bytes = backend.bytes.len().saturating_sub(backend.pos);
        if unread_bytes == 0 {
            Ok(())
        } else {
            Err(CoderError::TrailingData { unread_bytes })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_stream_is_empty() {
        assert!(SymbolEncoder::new().finish().is_empty());
        SymbolDecoder::new(&[]).finish().unwrap();
    }

    #[test]
    fn roundtrip_mixed_models() {
        let models = [
            IntCdf::from_weights(&[1, 1, 1]).unwrap(),
            IntCdf::from_weights(&[1, 100, 1000, 3, 0]).unwrap(),
            IntCdf::uniform(256).unwrap(),
            IntCdf::uniform(1).unwrap(),
        ];
        let mut symbols = Vec::new();
        let mut enc = SymbolEncoder::new();
        for i in 0..5000usize {
            let m = &models[i % models.len()];
            let s = (i * 7919 + i / 3) % m.num_symbols();
            enc.encode(s, m).unwrap();
            symbols.push(s);
        }
        assert_eq!(enc.num_symbols(), 5000);
        let bytes = enc.finish();
        let mut dec = SymbolDecoder::new(&bytes);
        for (i, &s) in symbols.iter().enumerate() {
            assert_eq!(dec.decode(&models[i % models.len()]).unwrap(), s);
        }
        dec.finish().unwrap();
    }

    #[test]
    fn out_of_range_symbol() {
        let m = IntCdf::uniform(3).unwrap();
        let mut enc = SymbolEncoder::new();
        assert_eq!(
            enc.encode(3, &m),
            Err(CoderError::SymbolOutOfRange {
                symbol: 3,
                num_symbols: 3
            })
        );
        assert_eq!(enc.num_symbols(), 0);
        assert!(enc.finish().is_empty());
    }

    #[test]
    fn trailing_data_detected() {
        let m = IntCdf::uniform(7).unwrap();
        let mut enc = SymbolEncoder::new();
        enc.encode_all(&[1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6], &m)
            .unwrap();
        let mut bytes = enc.finish();
        bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        let mut dec = SymbolDecoder::new(&bytes);
        assert_eq!(
            dec.decode_all(13, &m).unwrap(),
            vec![1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6]
        );
        assert!(matches!(dec.finish(), Err(CoderError::TrailingData { .. })));
    }

    #[test]
    fn garbage_never_panics() {
        let m = IntCdf::from_weights(&[1, 60000, 1]).unwrap();
        let garbage: Vec<u8> = (0..103u32).map(|i| (i * 151 + 7) as u8).collect();
        for len in 0..garbage.len() {
            let mut dec = SymbolDecoder::new(&garbage[..len]);
            for _ in 0..200 {
                if let Ok(s) = dec.decode(&m) {
                    assert!(s < 3);
                }
            }
        }
    }
}
