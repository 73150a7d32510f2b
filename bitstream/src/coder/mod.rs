//! Deterministic integer entropy coder.
//!
//! * [`IntCdf`]: a validated distribution over `n` symbols (`1 <= n <= 256`)
//!   whose integer frequencies are all `>= 1` and sum to exactly
//!   [`TOTAL`]` = 2^16`. Built from arbitrary integer weights with
//!   [`IntCdf::from_weights`] (integer-only, deterministic normalisation).
//! * [`SymbolEncoder`] / [`SymbolDecoder`]: a range coder (constriction's
//!   `RangeEncoder<u32, u64>` / `RangeDecoder<u32, u64>`, i.e. the
//!   `DefaultRangeEncoder` / `DefaultRangeDecoder`) that codes one symbol at a
//!   time with a caller-supplied [`IntCdf`], so an adaptive / autoregressive
//!   model can compute each next distribution from the symbols decoded so
//!   far.
//!
//! The range coder is a *queue*: symbols are decoded in the order in which
//! they were encoded.
//!
//! # Byte representation of a coded stream
//!
//! The range coder emits 32-bit words. A payload is the sequence of those
//! words, each written as 4 little-endian bytes, with all trailing `0x00`
//! bytes removed. The decoder accepts any byte length: it reads words as
//! little-endian, zero-padding a final partial word, and reads `0` words once
//! the input is exhausted. Because the range decoder by definition treats
//! missing input as zero bits, trimming trailing zero bytes is lossless (it
//! typically saves the 4-byte zero word that constriction appends when sealing
//! a stream for concatenation, which a length-delimited `.cvq` payload does
//! not need). An empty symbol sequence encodes to an empty payload.
//!
//! # Determinism
//!
//! No floating point is involved: [`IntCdf`] implements constriction's
//! `EntropyModel<16>`, `EncoderModel<16>` and `DecoderModel<16>` directly on
//! its integer table, and the range coder itself is integer-only.

mod cdf;
mod error;
mod stream;

pub use cdf::{IntCdf, MAX_SYMBOLS, PRECISION, TOTAL};
pub use error::CoderError;
pub use stream::{SymbolDecoder, SymbolEncoder};
