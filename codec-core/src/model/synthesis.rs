//! The synthesis half of the model: quantizer means and the decoder. It is all a
//! decoder needs besides the integer entropy model, and all that a decoder-only model
//! file (`.cvqd`) stores.
//!
//! Shapes: symbols of group `g` `[B, C_g, h, w]` (least important group first), inverse
//! channel order `[C]` → reconstruction `[B, 3, 16·h, 16·w]`.

use burn::module::{Module, Param};
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
    /// Log inverse gains `[K, C]` of a variable-rate model.
    pub inv_gain: Option<Param<Tensor<B, 2>>>,
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
            inv_gain: rate_gains(cfg.num_rate_points(), cfg.code_channels, -1.0, device),
        })
    }

    /// The decoder's input for the symbols of each group (see the module docs for
    /// shapes): dequantized, merged, reordered (`inverse_order`, the inverse of the
    /// channel order: [`super::split_merge::inverse_order`] on the host) and, for a
    /// variable-rate model, un-gained at rate point `rate` (0 for a fixed-rate model):
    /// `[B, C, h, w]`. The image is `decoder.forward` of it.
    pub fn code(
        &self,
        groups: &ChannelGroups,
        symbols: Vec<Tensor<B, 4, Int>>,
        inverse_order: Tensor<B, 1, Int>,
        rate: usize,
    ) -> Tensor<B, 4> {
        decoder_input(
            &self.quantizers,
            self.inv_gain.as_ref(),
            groups,
            symbols,
            inverse_order,
            rate,
        )
    }
}

/// Initial log gains `[K, C]` of a variable-rate model (`None` for `K = 1`): rate point
/// `k` starts at gain `0.5 · 4^(k / (K − 1))` (0.5 … 2, `sign = 1`) or its inverse
/// (`sign = −1`), the same for every channel.
pub fn rate_gains<B: Backend>(
    rate_points: usize,
    channels: usize,
    sign: f64,
    device: &B::Device,
) -> Option<Param<Tensor<B, 2>>> {
    (rate_points > 1).then(|| {
        let k = rate_points;
        let rows: Vec<f32> = (0..k)
            .flat_map(|i| {
                let log_gain = (0.5f64).ln() + (4.0f64).ln() * i as f64 / (k - 1) as f64;
                std::iter::repeat_n((sign * log_gain) as f32, channels)
            })
            .collect();
        Param::from_tensor(Tensor::from_data(
            burn::tensor::TensorData::new(rows, [k, channels]),
            device,
        ))
    })
}

/// The gain of rate point `rate` as a `[1, C, 1, 1]` multiplier: `exp(log_gain[rate])`.
pub fn gain_at<B: Backend>(log_gain: &Param<Tensor<B, 2>>, rate: usize) -> Tensor<B, 4> {
    let c = log_gain.dims()[1];
    log_gain
        .val()
        .narrow(0, rate, 1)
        .exp()
        .reshape([1, c, 1, 1])
}

/// Dequantizes each group's symbols with its quantizer, merges the groups, undoes the
/// channel order (`out[:, c] = merged[:, inverse_order[c]]`), applies the inverse gain
/// of rate point `rate` (variable-rate models) and runs the decoder. Shared by
/// [`Synthesis`] and [`super::Cvqn`]. Uses no operation that reads back from the
/// device, so it runs on backends without synchronous reads (WebGPU in a browser).
pub fn synthesize<B: Backend>(
    decoder: &Decoder<B>,
    quantizers: &[GmmQuantizer<B>],
    inv_gain: Option<&Param<Tensor<B, 2>>>,
    groups: &ChannelGroups,
    symbols: Vec<Tensor<B, 4, Int>>,
    inverse_order: Tensor<B, 1, Int>,
    rate: usize,
) -> Tensor<B, 4> {
    decoder.forward(decoder_input(
        quantizers,
        inv_gain,
        groups,
        symbols,
        inverse_order,
        rate,
    ))
}

/// The decoder's input of [`synthesize`]: dequantized, merged, reordered, un-gained.
fn decoder_input<B: Backend>(
    quantizers: &[GmmQuantizer<B>],
    inv_gain: Option<&Param<Tensor<B, 2>>>,
    groups: &ChannelGroups,
    symbols: Vec<Tensor<B, 4, Int>>,
    inverse_order: Tensor<B, 1, Int>,
    rate: usize,
) -> Tensor<B, 4> {
    let values = symbols
        .into_iter()
        .zip(quantizers)
        .map(|(s, q)| q.dequantize(s))
        .collect();
    let code = groups.merge(values).select(1, inverse_order);
    match inv_gain {
        Some(g) => code * gain_at(g, rate),
        None => code,
    }
}
