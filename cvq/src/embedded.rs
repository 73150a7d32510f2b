//! The model files compiled into the library (see `models/README.md` for how each was
//! trained and what it measures on Kodak). They stay in the repository's `models/`
//! folder, shared with the web build and the trainer.

use crate::Tune;

/// A model file compiled into the library.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmbeddedModel {
    /// What the model was trained for; [`Tune::Psnr`] for the recurrent model, which no
    /// rate point selects.
    pub tune: Tune,
    /// The rate points (`quality`) the model serves: one for a fixed-rate model, several
    /// for a variable-rate one.
    pub qualities: &'static [u8],
    /// The `.cvqm` bytes.
    pub bytes: &'static [u8],
}

/// Embedded models: the PSNR ladder, lowest rate first (`quality` 1 makes the smallest
/// files), the MS-SSIM-tuned models, then the recurrent model. Only the default (PSNR,
/// quality 3) is in every build; the crate's features `psnr-ladder`, `ms-ssim-models` and
/// `recurrent-model` (all default) add the others. A `static`, not a `const`: every use of a `const` may get its own
/// copy of the model bytes in the binary (with 20 MB of models it did: 51 MB instead of 31 MB).
pub(crate) static MODELS: &[EmbeddedModel] = &[
    #[cfg(feature = "psnr-ladder")]
    EmbeddedModel {
        tune: Tune::Psnr,
        qualities: &[1],
        bytes: include_bytes!("../../models/cvq-compact-q1.cvqm"),
    },
    #[cfg(feature = "psnr-ladder")]
    EmbeddedModel {
        tune: Tune::Psnr,
        qualities: &[2],
        bytes: include_bytes!("../../models/cvq-compact-q2.cvqm"),
    },
    EmbeddedModel {
        tune: Tune::Psnr,
        qualities: &[3],
        bytes: include_bytes!("../../models/cvq-compact-q3.cvqm"),
    },
    #[cfg(feature = "psnr-ladder")]
    EmbeddedModel {
        tune: Tune::Psnr,
        qualities: &[4],
        bytes: include_bytes!("../../models/cvq-compact-q4.cvqm"),
    },
    #[cfg(feature = "psnr-ladder")]
    EmbeddedModel {
        tune: Tune::Psnr,
        qualities: &[5],
        bytes: include_bytes!("../../models/cvq-compact-q5.cvqm"),
    },
    // Trained on α·(1 − MS-SSIM) + rate (`Options::tune`).
    #[cfg(feature = "ms-ssim-models")]
    EmbeddedModel {
        tune: Tune::MsSsim,
        qualities: &[1],
        bytes: include_bytes!("../../models/cvq-compact-ssim-q1.cvqm"),
    },
    #[cfg(feature = "ms-ssim-models")]
    EmbeddedModel {
        tune: Tune::MsSsim,
        qualities: &[2],
        bytes: include_bytes!("../../models/cvq-compact-ssim-q2.cvqm"),
    },
    #[cfg(feature = "ms-ssim-models")]
    EmbeddedModel {
        tune: Tune::MsSsim,
        qualities: &[3],
        bytes: include_bytes!("../../models/cvq-compact-ssim-q3.cvqm"),
    },
    #[cfg(feature = "ms-ssim-models")]
    EmbeddedModel {
        tune: Tune::MsSsim,
        qualities: &[4],
        bytes: include_bytes!("../../models/cvq-compact-ssim-q4.cvqm"),
    },
    // The recurrent model: no rate point of its own (its qualities are iteration
    // counts; encode with `--model models/cvq-rnn.cvqm --iterations N`); embedded so
    // that `cvq decode` finds it by the name and hash in a file's header.
    #[cfg(feature = "recurrent-model")]
    EmbeddedModel {
        tune: Tune::Psnr,
        qualities: &[],
        bytes: include_bytes!("../../models/cvq-rnn.cvqm"),
    },
];

#[cfg(test)]
mod tests {
    use super::MODELS;
    use cvq_entropy::{ModelFamily, ModelFile, RecurrentModelFile, model_identity};

    /// `Model::for_file` picks a model by the identity each file states (no digest
    /// check); here every embedded file's stated identity is checked against its
    /// verified hash, and no two files state the same one.
    #[test]
    fn every_embedded_model_states_its_verified_identity_once() {
        let mut ids = Vec::new();
        for m in MODELS {
            let id = model_identity(m.bytes).unwrap();
            let (name, hash) = match id.family {
                ModelFamily::Cvqn => {
                    let f = ModelFile::from_bytes(m.bytes).unwrap();
                    (f.name.clone(), f.hash().unwrap())
                }
                ModelFamily::Recurrent => {
                    let f = RecurrentModelFile::from_bytes(m.bytes).unwrap();
                    (f.name.clone(), f.hash().unwrap())
                }
            };
            assert_eq!((&id.name, id.hash), (&name, hash));
            assert!(!ids.contains(&id), "{} stated twice", id.name);
            ids.push(id);
        }
    }

    /// What each feature embeds. CI runs this with the default features (all models)
    /// and with none (`--no-default-features --features cli`: the default model only).
    #[test]
    fn the_features_choose_the_embedded_models() {
        use crate::{Tune, qualities_for};
        let ladder = cfg!(feature = "psnr-ladder");
        let ms_ssim = cfg!(feature = "ms-ssim-models");
        let psnr: Vec<u8> = qualities_for(Tune::Psnr).collect();
        assert_eq!(psnr, if ladder { vec![1, 2, 3, 4, 5] } else { vec![3] });
        let tuned: Vec<u8> = qualities_for(Tune::MsSsim).collect();
        assert_eq!(tuned, if ms_ssim { vec![1, 2, 3, 4] } else { vec![] });
        let recurrent = MODELS.iter().filter(|m| m.qualities.is_empty()).count();
        assert_eq!(recurrent, usize::from(cfg!(feature = "recurrent-model")));
        // A rate point left out names the feature that brings it.
        let message = crate::model::no_such_quality(1, Tune::MsSsim).to_string();
        assert_eq!(
            message.contains("`ms-ssim-models` feature"),
            !ms_ssim,
            "{message}"
        );
        let message = crate::model::no_such_quality(1, Tune::Psnr).to_string();
        assert_eq!(
            message.contains("`psnr-ladder` feature"),
            !ladder,
            "{message}"
        );
    }
}
