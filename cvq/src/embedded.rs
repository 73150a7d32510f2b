//! The model files compiled into the library (see `models/README.md` for how each was
//! trained and what it measures on Kodak). They stay in the repository's `models/`
//! folder, shared with the web build and the trainer.

/// A model file compiled into the library.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmbeddedModel {
    /// The rate points (`quality`) the model serves: one for a fixed-rate model, several
    /// for a variable-rate one.
    pub qualities: &'static [u8],
    /// The `.cvqm` bytes.
    pub bytes: &'static [u8],
}

/// Embedded models, lowest rate first (`quality` 1 makes the
/// smallest files), then the recurrent model. A `static`, not a `const`: every use of a `const` may get its own
/// copy of the 20 MB of model bytes in the binary (it did: 51 MB instead of 31 MB).
pub(crate) static MODELS: &[EmbeddedModel] = &[
    EmbeddedModel {
        qualities: &[1],
        bytes: include_bytes!("../../models/cvq-compact-q1.cvqm"),
    },
    EmbeddedModel {
        qualities: &[2],
        bytes: include_bytes!("../../models/cvq-compact-q2.cvqm"),
    },
    EmbeddedModel {
        qualities: &[3],
        bytes: include_bytes!("../../models/cvq-compact-q3.cvqm"),
    },
    EmbeddedModel {
        qualities: &[4],
        bytes: include_bytes!("../../models/cvq-compact-q4.cvqm"),
    },
    // The recurrent model: no rate point of its own (its qualities are iteration
    // counts; encode with `--model models/cvq-rnn.cvqm --iterations N`); embedded so
    // that `cvq decode` finds it by the name and hash in a file's header.
    EmbeddedModel {
        qualities: &[],
        bytes: include_bytes!("../../models/cvq-rnn.cvqm"),
    },
];
