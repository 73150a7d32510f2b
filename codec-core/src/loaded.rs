//! A loaded model file of either codec family, as the tools and the browser hold it: the
//! one place that tells the families apart by their model file ([`model_family`]) and
//! answers what every caller asks of a model whatever its family (id, qualities, whether
//! it encodes, its decoder-only cut).

use burn::tensor::backend::Backend;

use crate::codec::{CodecError, CodecModel};
use crate::entropy::{ModelFamily, model_family};
use crate::recurrent::codec::RecurrentCodecModel;

/// A model of either family, loaded on backend `B`.
#[derive(Debug)]
pub enum LoadedModel<B: Backend> {
    /// CVQN (`CVQM` / `CVQD` files): qualities are rate points.
    Cvqn(Box<CodecModel<B>>),
    /// The recurrent progressive codec (`CVQR` / `CVRD` files): qualities are iteration
    /// counts.
    Recurrent(Box<RecurrentCodecModel<B>>),
}

impl<B: Backend> LoadedModel<B> {
    /// Loads model-file bytes of either family (full `.cvqm` or decoder-only `.cvqd`).
    ///
    /// # Errors
    ///
    /// [`CodecError`] from the model file or its weights (bytes that are no model file
    /// are reported by the CVQN parser: "not a cvq model file").
    pub fn load(bytes: &[u8], device: &B::Device) -> Result<Self, CodecError> {
        Ok(match model_family(bytes) {
            Some(ModelFamily::Recurrent) => {
                Self::Recurrent(Box::new(RecurrentCodecModel::load(bytes, device)?))
            }
            _ => Self::Cvqn(Box::new(CodecModel::load(bytes, device)?)),
        })
    }

    /// A CVQN model decodes with the decoder's channels-last CPU kernels
    /// ([`CodecModel::with_cpu_kernels`], `threads` per convolution) and computes its
    /// entropy model's distributions on `threads` threads
    /// ([`CodecModel::with_entropy_threads`]); a recurrent model decodes with its
    /// decoder's CPU kernels ([`RecurrentCodecModel::with_cpu_kernels`]): for tools whose
    /// backend runs on the CPU.
    pub fn with_cpu_kernels(self, threads: usize) -> Self {
        match self {
            Self::Cvqn(m) => Self::Cvqn(Box::new(
                m.with_cpu_kernels(threads).with_entropy_threads(threads),
            )),
            Self::Recurrent(m) => Self::Recurrent(Box::new(m.with_cpu_kernels(threads))),
        }
    }

    /// The family.
    pub fn family(&self) -> ModelFamily {
        match self {
            Self::Cvqn(_) => ModelFamily::Cvqn,
            Self::Recurrent(_) => ModelFamily::Recurrent,
        }
    }

    /// `name#hash`: the id written into every `.cvq` file the model makes.
    pub fn id_string(&self) -> String {
        match self {
            Self::Cvqn(m) => m.id_string(),
            Self::Recurrent(m) => m.id_string(),
        }
    }

    /// The default quality: the rate point of a fixed-rate model (a variable-rate one's
    /// stored default), all iterations of a recurrent one.
    pub fn quality(&self) -> u8 {
        match self {
            Self::Cvqn(m) => m.quality,
            Self::Recurrent(m) => m.config.iterations as u8,
        }
    }

    /// Every quality the model encodes at: its rate points, or `1..=T` iterations.
    pub fn qualities(&self) -> Vec<u8> {
        match self {
            Self::Cvqn(m) => m.qualities(),
            Self::Recurrent(m) => (1..=m.config.iterations as u8).collect(),
        }
    }

    /// Whether the model can encode (`false` for a decoder-only `.cvqd` of either
    /// family).
    pub fn can_encode(&self) -> bool {
        match self {
            Self::Cvqn(m) => m.model.is_some(),
            Self::Recurrent(m) => m.can_encode(),
        }
    }

    /// The model's decoder-only file (`.cvqd`) as bytes: it decodes this model's files
    /// identically and cannot encode.
    ///
    /// # Errors
    ///
    /// Serialisation errors.
    pub fn decoder_only_bytes(&self) -> Result<Vec<u8>, CodecError> {
        Ok(match self {
            Self::Cvqn(m) => m.decoder_only_file()?.to_bytes()?,
            Self::Recurrent(m) => m.decoder_only_file()?.to_bytes()?,
        })
    }
}
