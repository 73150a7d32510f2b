//! The model files compiled into the library (see `models/README.md` for how each was
//! trained and what it measures on Kodak). They stay in the repository's `models/`
//! folder, shared with the web build and the trainer.

/// A model file compiled into the library.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmbeddedModel {
    /// The model's rate point (`quality`).
    pub quality: u8,
    /// The `.cvqm` bytes.
    pub bytes: &'static [u8],
}

/// Embedded models, one per rate point, lowest rate first (`quality` 1 makes the
/// smallest files).
pub(crate) const MODELS: &[EmbeddedModel] = &[
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
