//! Deterministic integer entropy model and its exact sequential coder.
//!
//! [`IntContextModel3d`] is the fixed-point twin of the float
//! [`ContextModel3d`](crate::model::context3d::ContextModel3d) (exported with
//! [`export_context_model`]); it does not depend on Burn and uses integer arithmetic
//! only (plus a `libm`-built exp table), so encoder and decoder compute bit-identical
//! distributions on every target (x86-64, wasm32). The fixed-point conventions are
//! documented in [`fixed`].
//!
//! One channel group (`c` channels of `h × w`) is coded position by position in
//! raster order `(c, y, x)` with [`encode_group`] / [`decode_group`]; decoding
//! position `p` evaluates the four layers at `p` only (every mask reaches only
//! earlier positions, the first one strictly), then decodes its symbol.

mod coder3d;
mod export;
pub mod fixed;
mod int_context3d;

use cvq_bitstream::coder::CoderError;

pub use coder3d::{decode_group, encode_group, estimate_bits};
pub use export::export_context_model;
pub use int_context3d::{
    IntContextModel3d, IntMaskedConv3d, MAX_FEATURES, MAX_PLANE_WORK, MAX_POSITIONS, MaskKind,
};

/// Errors of the integer entropy model and its coder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntropyError {
    /// The model's parameters are inconsistent or out of range.
    #[error("invalid integer context model: {0}")]
    InvalidModel(String),
    /// A serialised model could not be parsed.
    #[error("malformed serialised context model: {0}")]
    Malformed(&'static str),
    /// The group exceeds [`MAX_POSITIONS`] or [`MAX_PLANE_WORK`].
    #[error("group of {c}×{h}×{w} exceeds the coder's size limits")]
    TooLarge {
        /// Channels.
        c: usize,
        /// Rows.
        h: usize,
        /// Columns.
        w: usize,
    },
    /// The number of symbols is not `c·h·w`.
    #[error("expected {expected} symbols, got {got}")]
    LengthMismatch {
        /// `c·h·w`.
        expected: usize,
        /// Given.
        got: usize,
    },
    /// A symbol is not below the number of levels.
    #[error("symbol {symbol} at position {position} is not below {levels}")]
    SymbolOutOfRange {
        /// Raster position.
        position: usize,
        /// The symbol.
        symbol: usize,
        /// Number of levels.
        levels: usize,
    },
    /// Error of the range coder (e.g. corrupt payload).
    #[error(transparent)]
    Coder(#[from] CoderError),
}
