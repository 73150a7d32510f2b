//! Resource limits applied by the reader.

use core::fmt;

/// Resource limits enforced by [`read_file`](super::read_file) and
/// [`read_prefix`](super::read_prefix) (in the spirit of `image::Limits`).
///
/// Every size read from a file is compared with these limits *and* with the
/// number of bytes actually available before anything is allocated, so a
/// malicious header cannot make the reader allocate more than a small
/// multiple of the limits (the reader itself allocates at most
/// `O(max_channels + max_groups)` bytes; payloads are borrowed).
///
/// Start from [`Limits::default`] and tighten or relax individual fields:
///
/// ```
/// let mut limits = cvq_bitstream::format::Limits::default();
/// limits.max_pixels = 4096 * 4096;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Limits {
    /// Largest accepted image width in pixels. Default: 16384.
    pub max_width: u32,
    /// Largest accepted image height in pixels. Default: 16384.
    pub max_height: u32,
    /// Largest accepted `width * height`. Default: 64 Mi pixels
    /// (67 108 864).
    pub max_pixels: u64,
    /// Largest accepted latent channel count `C` (also bounds each group's
    /// channel count). Default: 1024.
    pub max_channels: u32,
    /// Largest accepted number of groups `G`. Default: 64.
    pub max_groups: u32,
    /// Largest accepted payload length of a single group, in bytes.
    /// Default: 256 MiB.
    pub max_group_payload_bytes: u64,
    /// Largest accepted total file length (header + all payloads), in bytes.
    /// Default: 1 GiB.
    pub max_file_bytes: u64,
    /// Largest accepted model-name length in bytes (the format itself caps it
    /// at [`MAX_MODEL_NAME_LEN`](super::MAX_MODEL_NAME_LEN) = 255).
    /// Default: 64.
    pub max_model_name_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_width: 16384,
            max_height: 16384,
            max_pixels: 64 * 1024 * 1024,
            max_channels: 1024,
            max_groups: 64,
            max_group_payload_bytes: 256 * 1024 * 1024,
            max_file_bytes: 1024 * 1024 * 1024,
            max_model_name_len: 64,
        }
    }
}

/// Which [`Limits`] field was exceeded (see
/// [`FormatError::LimitExceeded`](super::FormatError::LimitExceeded)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitKind {
    /// [`Limits::max_width`].
    Width,
    /// [`Limits::max_height`].
    Height,
    /// [`Limits::max_pixels`].
    Pixels,
    /// [`Limits::max_channels`] (latent channel count).
    Channels,
    /// [`Limits::max_channels`] applied to one group's channel count.
    GroupChannels,
    /// [`Limits::max_groups`].
    Groups,
    /// [`Limits::max_group_payload_bytes`].
    GroupPayloadBytes,
    /// [`Limits::max_file_bytes`], or the address space of the platform
    /// (`usize`) when that is smaller.
    FileBytes,
    /// [`Limits::max_model_name_len`].
    ModelNameLen,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Width => "image width",
            Self::Height => "image height",
            Self::Pixels => "pixel count",
            Self::Channels => "latent channel count",
            Self::GroupChannels => "group channel count",
            Self::Groups => "group count",
            Self::GroupPayloadBytes => "group payload bytes",
            Self::FileBytes => "file bytes",
            Self::ModelNameLen => "model name length",
        })
    }
}
