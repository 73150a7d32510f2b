//! The synthesis half of the model: quantizer means and the decoder. It is all a
//! decoder needs besides the integer entropy model, and all that a decoder-only model
//! file (`.cvqd`) stores.
//!
//! Shapes: symbols of group `g` `[B, C_g, h, w]` (least important group first), inverse
//! channel order `[C]` → reconstruction `[B, 3, 16·h, 16·w]`.

use burn::module::Module;
use burn::tensor::{Int, Tensor, backend::Backend};

use super::decoder::Decoder;
use super::quantizer::GmmQuantizer;
use super::split_merge::ChannelGroups;
use crate::config::{ConfigError, CvqnConfig};

/// Decoder and quantizers, as in a [`super::Cvqn`] (same record names).
#[derive(Module, Debug)]
pub struct Synthesis<B: Backend> {
    /// Synthesis transform.
    pub decoder: Decoder<B>,
    /// One GMM quantizer per group (least important group first).
    pub quantizers: Vec<GmmQuantizer<B>>,
}

impl<B: Backend> Synthesis<B> {
    /// A freshly initialised synthesis half (weights are then loaded from a record).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid configuration.
    pub fn new(cfg: &CvqnConfig, device: &B::Device) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(Self {
            decoder: Decoder::new(cfg, device),
            quantizers: cfg
                .levels
                .iter()
                .map(|&l| GmmQuantizer::new(l, cfg.quantizer_sigma_init, device))
                .collect(),
        })
    }

    /// Symbols per group → reconstruction (see the module docs for shapes).
    /// `inverse_order` is the inverse of the channel order
    /// ([`super::split_merge::inverse_order`] on the host).
    pub fn forward(
        &self,
        groups: &ChannelGroups,
        symbols: Vec<Tensor<B, 4, Int>>,
        inverse_order: Tensor<B, 1, Int>,
    ) -> Tensor<B, 4> {
        synthesize(
            &self.decoder,
            &self.quantizers,
            groups,
            symbols,
            inverse_order,
        )
    }
}

/// Dequantizes each group's symbols with its quantizer, merges the groups, undoes the
/// channel order (`out[:, c] = merged[:, inverse_order[c]]`) and runs the decoder.
/// Shared by [`Synthesis`] and [`super::Cvqn`]. Uses no operation that reads back from
/// the device, so it runs on backends without synchronous reads (WebGPU in a browser).
pub fn synthesize<B: Backend>(
    decoder: &Decoder<B>,
    quantizers: &[GmmQuantizer<B>],
    groups: &ChannelGroups,
    symbols: Vec<Tensor<B, 4, Int>>,
    inverse_order: Tensor<B, 1, Int>,
) -> Tensor<B, 4> {
    let values = symbols
        .into_iter()
        .zip(quantizers)
        .map(|(s, q)| q.dequantize(s))
        .collect();
    decoder.forward(groups.merge(values).select(1, inverse_order))
}
