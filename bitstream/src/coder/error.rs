//! Errors of the entropy coder.

/// Error returned by the entropy coder and by [`IntCdf`](super::IntCdf)
/// constructors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoderError {
    /// A distribution must have at least one symbol.
    #[error("a distribution needs at least one symbol")]
    EmptyAlphabet,

    /// More symbols than [`MAX_SYMBOLS`](super::MAX_SYMBOLS) were requested.
    #[error("{num_symbols} symbols requested, at most {max} are supported")]
    TooManySymbols {
        /// Requested alphabet size.
        num_symbols: usize,
        /// Largest supported alphabet size.
        max: usize,
    },

    /// An explicit frequency table contains a zero frequency.
    #[error("symbol {symbol} has frequency 0 (every symbol needs frequency >= 1)")]
    ZeroFrequency {
        /// Index of the offending symbol.
        symbol: usize,
    },

    /// An explicit frequency table does not sum to [`TOTAL`](super::TOTAL).
    #[error("frequencies sum to {sum}, expected {expected}")]
    BadFrequencySum {
        /// Actual sum of the frequencies.
        sum: u64,
        /// Required sum (`2^16`).
        expected: u32,
    },

    /// Tried to encode a symbol outside the distribution's alphabet.
    #[error("symbol {symbol} is out of range for a distribution over {num_symbols} symbols")]
    SymbolOutOfRange {
        /// The symbol that was passed to the encoder.
        symbol: usize,
        /// Alphabet size of the distribution that was used.
        num_symbols: usize,
    },

    /// The compressed data is not a valid range-coder stream.
    #[error("invalid compressed data")]
    InvalidData,

    /// [`SymbolDecoder::finish`](super::SymbolDecoder::finish) found
    /// compressed bytes that were never consumed (the caller decoded fewer
    /// symbols than were encoded, or the payload carries trailing garbage).
    #[error("{unread_bytes} compressed bytes were never read")]
    TrailingData {
        /// Number of bytes the decoder never reached.
        unread_bytes: usize,
    },
}
