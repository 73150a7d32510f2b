//! Errors of the container reader / writer.

use super::LimitKind;

/// Error returned by the `.cvq` reader and writer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The file does not start with the magic bytes `"CVQ"`.
    #[error("not a .cvq file (bad magic bytes)")]
    BadMagic,

    /// The format version byte is not one this reader understands.
    #[error("unsupported .cvq format version {version} (this reader supports {supported})")]
    UnsupportedVersion {
        /// Version byte found in the file.
        version: u8,
        /// The version this reader supports.
        supported: u8,
    },

    /// The input ends before the data it announces. `needed` is the number of
    /// bytes (counted from the start of the file) that must be available to
    /// make progress: a lower bound while the header itself is incomplete,
    /// the exact file length once the header was read completely.
    #[error("truncated input: {available} bytes available, at least {needed} needed")]
    Truncated {
        /// Bytes that were available.
        available: usize,
        /// Bytes needed (see above).
        needed: u64,
    },

    /// A value in the header exceeds a [`Limits`](super::Limits) field.
    #[error("{limit} {value} exceeds the limit of {max}")]
    LimitExceeded {
        /// Which limit.
        limit: LimitKind,
        /// Value claimed by the file.
        value: u64,
        /// The configured maximum.
        max: u64,
    },

    /// A LEB128 varint is overlong (not minimally encoded) or does not fit
    /// in 64 bits.
    #[error("malformed varint at byte offset {offset}")]
    InvalidVarint {
        /// Offset of the varint's first byte.
        offset: usize,
    },

    /// Reserved flag bits are set (a future format feature).
    #[error("reserved header flag bits are set: {flags:#04x}")]
    ReservedFlags {
        /// The flags byte.
        flags: u8,
    },

    /// Width or height is zero.
    #[error("invalid image dimensions {width}x{height} (both must be >= 1)")]
    InvalidDimensions {
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
    },

    /// The model name is not valid UTF-8.
    #[error("model name is not valid UTF-8")]
    InvalidModelName,

    /// The model name is longer than the format allows (writer side).
    #[error("model name is {len} bytes long, at most {max} are allowed")]
    ModelNameTooLong {
        /// Name length in bytes.
        len: usize,
        /// Maximum length in bytes.
        max: usize,
    },

    /// The entropy model byte is not a known [`EntropyModelKind`](super::EntropyModelKind).
    #[error("unknown entropy model kind {value}")]
    UnknownEntropyModel {
        /// The byte found in the file.
        value: u8,
    },

    /// The channel permutation is not a permutation of `0..C`.
    #[error("invalid channel permutation: entry {index} ({value}) is out of range or repeated")]
    InvalidPermutation {
        /// Position of the first offending entry (`C` for a non-zero padding
        /// in the packed representation).
        index: usize,
        /// The offending value.
        value: u64,
    },

    /// The latent has no channels (`C = 0`).
    #[error("the latent must have at least one channel")]
    NoChannels,

    /// The file declares no groups.
    #[error("the file must have at least one group")]
    NoGroups,

    /// A group's level count is outside `2..=255` (or not 2 for the binary entropy
    /// model).
    #[error(
        "group {group}: invalid number of quantization levels {levels} (must be 2..=255, and 2 for binary codes)"
    )]
    InvalidLevels {
        /// Group index (stored order).
        group: usize,
        /// The level count.
        levels: u8,
    },

    /// A group has zero channels.
    #[error("group {group} has no channels")]
    EmptyGroup {
        /// Group index (stored order).
        group: usize,
    },

    /// The group channel counts do not add up to the latent channel count.
    #[error("group channel counts sum to {sum}, but the latent has {channels} channels")]
    ChannelCountMismatch {
        /// Latent channel count `C`.
        channels: u64,
        /// Sum of the group channel counts.
        sum: u64,
    },

    /// The header CRC32 does not match.
    #[error(
        "header CRC32 mismatch (stored {stored:#010x} at offset {offset}, computed {computed:#010x})"
    )]
    HeaderCrcMismatch {
        /// Byte offset of the stored CRC field (= number of bytes covered).
        offset: usize,
        /// CRC stored in the file.
        stored: u32,
        /// CRC of the header bytes.
        computed: u32,
    },

    /// A group payload's CRC32 does not match.
    #[error(
        "group {group}: payload CRC32 mismatch (stored {stored:#010x}, computed {computed:#010x})"
    )]
    PayloadCrcMismatch {
        /// Group index (stored order).
        group: usize,
        /// CRC stored in the header.
        stored: u32,
        /// CRC of the payload bytes.
        computed: u32,
    },

    /// The writer was given a different number of payloads than groups.
    #[error("{payloads} payloads given for {groups} groups")]
    PayloadCountMismatch {
        /// Groups in the header.
        groups: usize,
        /// Payloads given.
        payloads: usize,
    },

    /// The input is longer than the file described by its header.
    #[error("{actual} bytes given, but the file ends after {expected} bytes")]
    TrailingBytes {
        /// File length according to the header.
        expected: usize,
        /// Input length.
        actual: usize,
    },
}
