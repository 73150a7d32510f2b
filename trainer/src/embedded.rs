//! The model files compiled into `cvq` and `cvq-train` (see `models/README.md` for how
//! each was trained and what it measures on Kodak).

use crate::codec_cli::EmbeddedModel;

/// Embedded models, one per rate point.
pub const MODELS: &[EmbeddedModel] = &[];

/// The rate point used without `--quality`.
pub const DEFAULT_QUALITY: Option<u8> = None;
