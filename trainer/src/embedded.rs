//! The model files compiled into `cvq` and `cvq-train` (see `models/README.md` for how
//! each was trained and what it measures on Kodak).

use crate::codec_cli::EmbeddedModel;

/// Embedded models, one per rate point (`--quality 1` is the smallest files).
pub const MODELS: &[EmbeddedModel] = &[
    EmbeddedModel {
        quality: 1,
        bytes: include_bytes!("../../models/cvq-compact-q1.cvqm"),
    },
    EmbeddedModel {
        quality: 2,
        bytes: include_bytes!("../../models/cvq-compact-q2.cvqm"),
    },
    EmbeddedModel {
        quality: 3,
        bytes: include_bytes!("../../models/cvq-compact-q3.cvqm"),
    },
    EmbeddedModel {
        quality: 4,
        bytes: include_bytes!("../../models/cvq-compact-q4.cvqm"),
    },
];

/// The rate point used without `--quality`.
pub const DEFAULT_QUALITY: Option<u8> = Some(3);
