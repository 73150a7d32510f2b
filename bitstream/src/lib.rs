//! # cvq-bitstream
//!
//! The `.cvq` container format and the deterministic integer entropy coder of
//! the cvq learned image codec. This crate has no Burn (or any ML) dependency
//! and compiles for `wasm32-unknown-unknown`.
//!
//! * [`format`](mod@format): the versioned binary container (header, model identity,
//!   channel permutation, per-group payload lengths and CRC32s) with a
//!   hardened reader ([`format::read_file`], [`format::read_prefix`] for
//!   progressive decoding) guarded by [`format::Limits`]. The byte layout is
//!   specified in `docs/FORMAT.md`.
//! * [`coder`]: a range coder (built on `constriction`) driven by validated
//!   integer distributions ([`coder::IntCdf`], 16-bit precision). Every
//!   operation that decides a probability is integer-only, so encoder and
//!   decoder agree bit-for-bit on every platform.
//!
//! ```
//! use cvq_bitstream::coder::{IntCdf, SymbolDecoder, SymbolEncoder};
//! use cvq_bitstream::format::{
//!     read_file, write_file, EntropyModelKind, FileHeader, GroupHeader, Limits, ModelId,
//!     Permutation,
//! };
//!
//! // Entropy-code one group of 3-level symbols.
//! let cdf = IntCdf::from_weights(&[1, 6, 1]).unwrap();
//! let symbols = [1usize, 1, 0, 2, 1, 1];
//! let mut enc = SymbolEncoder::new();
//! for &s in &symbols {
//!     enc.encode(s, &cdf).unwrap();
//! }
//! let payload = enc.finish();
//!
//! // Wrap it in a container.
//! let header = FileHeader {
//!     width: 16,
//!     height: 16,
//!     model: ModelId::new("cvq-small", [0; 8]).unwrap(),
//!     quality: 3,
//!     entropy_model: EntropyModelKind::Parallel,
//!     permutation: Permutation::identity(6),
//!     groups: vec![GroupHeader { levels: 3, channels: 6 }],
//! };
//! let bytes = write_file(&header, &[&payload]).unwrap();
//!
//! // Read it back.
//! let file = read_file(&bytes, &Limits::default()).unwrap();
//! assert_eq!(file.header, header);
//! let mut dec = SymbolDecoder::new(file.payloads[0]);
//! let decoded: Vec<usize> = (0..symbols.len()).map(|_| dec.decode(&cdf).unwrap()).collect();
//! assert_eq!(decoded, symbols);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod coder;
pub mod format;

#[doc(hidden)]
pub mod fuzzing;
