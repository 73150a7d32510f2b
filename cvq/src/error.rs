//! Typed errors. Every failure of the library is an [`Error`]; invalid [`Options`] are
//! an [`InvalidOptions`] inside it.
//!
//! [`Options`]: crate::Options

use std::path::PathBuf;

use cvq_core::codec::CodecError;

use crate::Tune;

/// Errors of encoding, decoding and loading models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `.cvq` container, the entropy coder, the model file or the image failed
    /// (malformed or truncated input, limits exceeded, corrupt weights, …).
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The options are inconsistent (see [`Options::validate`](crate::Options::validate)).
    #[error(transparent)]
    Options(#[from] InvalidOptions),
    /// A file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A model file cannot be loaded (not a model file, bad digest, configuration or
    /// weights).
    #[error("{}: {source}", path.display())]
    ModelFile {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: CodecError,
    },
    /// An image file cannot be decoded or written (feature `image`).
    #[error("{}: {message}", path.display())]
    Image {
        /// The file.
        path: PathBuf,
        /// Cause.
        message: String,
    },
    /// The `.cvq` file was made with a model that is not embedded in this build; decode
    /// it with that model ([`Model::open`](crate::Model::open) and [`Options::model`]).
    ///
    /// [`Options::model`]: crate::Options::model
    #[error("made with model {model}, which is not embedded in this build")]
    ModelNotEmbedded {
        /// `name#hash` named in the file.
        model: String,
    },
    /// Even the smallest file the allowed models make is larger than the size target.
    #[error(
        "does not fit in {budget} bytes: the smallest file, at quality {quality}, is {smallest} bytes"
    )]
    TooLarge {
        /// The size target in bytes (from `max_bytes` and/or `target_bpp`).
        budget: u64,
        /// Size of the smallest file that was made.
        smallest: u64,
        /// The rate point that made it.
        quality: u8,
    },
}

/// Why [`Options`](crate::Options) were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidOptions {
    /// No embedded model of this tune has this rate point.
    #[error("no embedded {tune} model for quality {quality} (available: {available})")]
    NoSuchQuality {
        /// The quality asked for.
        quality: u8,
        /// The tune asked for.
        tune: Tune,
        /// The embedded rate points of that tune, comma-separated.
        available: String,
    },
    /// A tune chooses among the embedded models; it cannot be combined with a model.
    #[error("tune {0} chooses among the embedded models; it cannot be combined with a given model")]
    TuneWithModel(Tune),
    /// The chosen model does not have this rate point.
    #[error("model {model} has no quality {quality} (it encodes at {model_qualities})")]
    QualityMismatch {
        /// `name#hash` of the model.
        model: String,
        /// Its rate points, comma-separated.
        model_qualities: String,
        /// The quality asked for.
        quality: u8,
    },
    /// `max_bytes` is zero.
    #[error("max_bytes must be at least 1")]
    ZeroMaxBytes,
    /// `target_bpp` is not a positive finite number.
    #[error("target_bpp must be a positive number of bits per pixel, got {0}")]
    BadTargetBpp(f64),
}
