//! The `.cvq` container format (version 1).
//!
//! The byte layout is specified in `docs/FORMAT.md`; in short:
//!
//! ```text
//! "CVQ" version flags width height quality entropy_model
//! name_len name[name_len] model_hash[8] C [permutation] G
//! G x (levels channels payload_len payload_crc32)  header_crc32
//! payload_0 payload_1 ... payload_{G-1}
//! ```
//!
//! Integers are unsigned LEB128 varints (minimal encoding required) or
//! single bytes; CRCs and the model hash are fixed-size little-endian fields.
//!
//! * [`write_file`] serialises a [`FileHeader`] and the group payloads,
//!   computing payload lengths and CRCs.
//! * [`read_file`] parses and fully validates a complete file.
//! * [`read_prefix`] parses a *prefix* of a file (e.g. while it streams in)
//!   and reports which groups are already complete, for progressive
//!   decoding.

mod error;
mod limits;
mod permutation;
mod read;
mod write;

pub use error::FormatError;
pub use limits::{LimitKind, Limits};
pub use permutation::Permutation;
pub use read::{CvqFile, PartialFile, PayloadInfo, read_file, read_prefix};
pub use write::write_file;

/// The 3 magic bytes every `.cvq` file starts with: ASCII `"CVQ"`.
pub const MAGIC: [u8; 3] = *b"CVQ";

/// The format version written by [`write_file`] and the only one
/// [`read_file`] accepts.
pub const FORMAT_VERSION: u8 = 1;

/// Hard cap on the model-name length in bytes (it is stored in one byte).
pub const MAX_MODEL_NAME_LEN: usize = 255;

/// Spatial down-sampling factor of the latent: the image is padded (by edge
/// replication) to a multiple of 16 in both directions, so the latent is
/// `ceil(height / 16) x ceil(width / 16)`.
pub const LATENT_STRIDE: u32 = 16;

/// Flag bit 0: the permutation is the identity and is not stored.
pub(crate) const FLAG_IDENTITY_PERMUTATION: u8 = 0b0000_0001;

/// Which entropy model produced the group payloads (and must decode them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EntropyModelKind {
    /// Parallel-decodable model: each group is conditioned on the more
    /// important groups and on a two-pass checkerboard inside the group, so a
    /// group decodes in two parallel passes. Stored as `0`.
    Parallel = 0,
    /// Autoregressive 3-D context model: each symbol's distribution depends
    /// on already-decoded neighbours (spatial and channel). Stored as `1`.
    Context3d = 1,
    /// The recurrent codec's adaptive bit model: every group is one
    /// iteration of `channels` bit planes (`levels` is 2), coded with the previous
    /// iteration's bits as context, so any prefix of whole groups decodes. Stored as `2`:
    /// the first files, coded with 81 shared contexts.
    Binary = 2,
    /// As [`Self::Binary`], coded with the context-mixing bit model (per-channel
    /// contexts across channels and iterations, mixed in the logistic domain; what the
    /// encoder writes). Stored as `3`.
    BinaryMixing = 3,
}

impl EntropyModelKind {
    /// The byte stored in the file.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Whether it is one of the recurrent family's bit models (groups of 2 levels).
    pub fn is_binary(self) -> bool {
        matches!(self, Self::Binary | Self::BinaryMixing)
    }
}

impl TryFrom<u8> for EntropyModelKind {
    type Error = FormatError;

    fn try_from(value: u8) -> Result<Self, FormatError> {
        match value {
            0 => Ok(Self::Parallel),
            1 => Ok(Self::Context3d),
            2 => Ok(Self::Binary),
            3 => Ok(Self::BinaryMixing),
            value => Err(FormatError::UnknownEntropyModel { value }),
        }
    }
}

/// Identity of the model that wrote a file; a decoder must refuse a file
/// whose `ModelId` differs from that of its loaded weights.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelId {
    /// Short human-readable model name, UTF-8, at most
    /// [`MAX_MODEL_NAME_LEN`] bytes (readers apply
    /// [`Limits::max_model_name_len`], default 64). May be empty.
    pub name: String,
    /// First 8 bytes of a hash of the exported weights (the hash function is
    /// the exporter's business; this crate only stores the bytes).
    pub hash: [u8; 8],
}

impl ModelId {
    /// Builds a model identity, checking the name length.
    ///
    /// # Errors
    ///
    /// [`FormatError::ModelNameTooLong`] if `name` exceeds
    /// [`MAX_MODEL_NAME_LEN`] bytes.
    pub fn new(name: impl Into<String>, hash: [u8; 8]) -> Result<Self, FormatError> {
        let name = name.into();
        if name.len() > MAX_MODEL_NAME_LEN {
            return Err(FormatError::ModelNameTooLong {
                len: name.len(),
                max: MAX_MODEL_NAME_LEN,
            });
        }
        Ok(Self { name, hash })
    }
}

/// `name#hash` with the hash in lowercase hex (`cvq-compact-q3#1a2b3c4d5e6f7a8b`): how
/// tools print a model's identity.
impl std::fmt::Display for ModelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#", self.name)?;
        self.hash.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// One channel group: a run of consecutive stored channels quantized to the
/// same number of levels and entropy coded into one payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupHeader {
    /// Number of quantization levels `L` (symbols are `0..L`), `2..=255`.
    pub levels: u8,
    /// Number of latent channels in the group, `>= 1`.
    pub channels: u32,
}

/// Everything in a `.cvq` header except the payload lengths and CRCs (which
/// the writer computes from the payloads; see [`PayloadInfo`] for reading
/// them back).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileHeader {
    /// Image width in pixels (`>= 1`), before padding to a multiple of 16.
    pub width: u32,
    /// Image height in pixels (`>= 1`), before padding to a multiple of 16.
    pub height: u32,
    /// Model that produced (and is required to decode) the file.
    pub model: ModelId,
    /// Quality / rate point the encoder was run at (model-specific meaning).
    pub quality: u8,
    /// Entropy model used for the payloads.
    pub entropy_model: EntropyModelKind,
    /// Channel permutation: stored position → model latent channel. Its
    /// length is the latent channel count `C` (`>= 1`).
    pub permutation: Permutation,
    /// Groups in stored order (most important first); their channel counts
    /// sum to `C`. At least one group.
    pub groups: Vec<GroupHeader>,
}

impl FileHeader {
    /// Latent channel count `C` (= `permutation.len()`).
    pub fn channels(&self) -> usize {
        self.permutation.len()
    }

    /// Latent spatial size `(height, width)` =
    /// `(ceil(height / 16), ceil(width / 16))`.
    pub fn latent_size(&self) -> (u32, u32) {
        (
            self.height.div_ceil(LATENT_STRIDE),
            self.width.div_ceil(LATENT_STRIDE),
        )
    }

    /// Stored channel positions of group `group` (index into
    /// [`Permutation::as_slice`]), or `None` if there is no such group.
    pub fn group_channel_range(&self, group: usize) -> Option<core::ops::Range<usize>> {
        let mut start = 0usize;
        for (i, g) in self.groups.iter().enumerate() {
            let end = start.checked_add(usize::try_from(g.channels).ok()?)?;
            if i == group {
                return Some(start..end);
            }
            start = end;
        }
        None
    }

    /// Number of symbols coded in group `group`:
    /// `channels * latent_height * latent_width`, or `None` if there is no
    /// such group.
    pub fn group_symbol_count(&self, group: usize) -> Option<u64> {
        let g = self.groups.get(group)?;
        let (lh, lw) = self.latent_size();
        u64::from(g.channels)
            .checked_mul(u64::from(lh))?
            .checked_mul(u64::from(lw))
    }

    /// Checks every format constraint that does not depend on [`Limits`]:
    /// `width, height >= 1`, model name length, `C >= 1` (and `C` fits
    /// `u32`), at least one group, every group has `2..=255` levels and
    /// `>= 1` channels (exactly 2 levels with the binary kinds), and the
    /// group channel counts sum to `C`.
    ///
    /// # Errors
    ///
    /// The corresponding [`FormatError`] variant.
    pub fn validate(&self) -> Result<(), FormatError> {
        if self.width == 0 || self.height == 0 {
            return Err(FormatError::InvalidDimensions {
                width: self.width,
                height: self.height,
            });
        }
        if self.model.name.len() > MAX_MODEL_NAME_LEN {
            return Err(FormatError::ModelNameTooLong {
                len: self.model.name.len(),
                max: MAX_MODEL_NAME_LEN,
            });
        }
        if self.permutation.is_empty() {
            return Err(FormatError::NoChannels);
        }
        if self.groups.is_empty() {
            return Err(FormatError::NoGroups);
        }
        let mut sum: u64 = 0;
        for (group, g) in self.groups.iter().enumerate() {
            if g.levels < 2 || (self.entropy_model.is_binary() && g.levels != 2) {
                return Err(FormatError::InvalidLevels {
                    group,
                    levels: g.levels,
                });
            }
            if g.channels == 0 {
                return Err(FormatError::EmptyGroup { group });
            }
            sum = sum.saturating_add(u64::from(g.channels));
        }
        let channels = self.permutation.len() as u64;
        if sum != channels {
            return Err(FormatError::ChannelCountMismatch { channels, sum });
        }
        Ok(())
    }
}
