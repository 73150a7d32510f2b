//! Errors of the integer entropy models, their coders and the model file.

use cvq_bitstream::coder::CoderError;

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
    /// A `.cvq` header does not fit the entropy model.
    #[error("file layout does not match the model: {0}")]
    Layout(String),
    /// The model file is not a valid cvq model.
    #[error("invalid model file: {0}")]
    ModelFile(String),
    /// Error of the range coder (e.g. corrupt payload).
    #[error(transparent)]
    Coder(#[from] CoderError),
}
