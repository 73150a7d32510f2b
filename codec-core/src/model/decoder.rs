//! Synthesis transform: code `[B, C, h, w]` → image `[B, 3, 16h, 16w]` (values ≈ `0..1`).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::{Tensor, backend::Backend};

use super::cpu::CpuDecoder;
use super::layers::attention::GivenMeans;
use super::layers::conv::{conv3x3_kernel, conv3x3_kernel_of, same_conv};
use super::layers::gdn::Gdn;
use super::layers::mean_shift::{MeanShift, ShiftDirection};
use super::layers::pixel_shuffle::{conv3x3_after_shuffle, folded_after_shuffle, pixel_shuffle};
use super::layers::residual::{BlockOptions, ResidualGroup};
use crate::config::{CvqnConfig, DecoderConfig};

/// One decoder stage: conv → residual group → (inverse GDN) → pixel shuffle.
#[derive(Module, Debug)]
pub struct DecoderStage<B: Backend> {
    conv: Conv2d<B>,
    group: ResidualGroup<B>,
    gdn: Option<Gdn<B>>,
}

/// The decoder (×16 up-sampling).
#[derive(Module, Debug)]
pub struct Decoder<B: Backend> {
    head: Conv2d<B>,
    stages: Vec<DecoderStage<B>>,
    tail: Conv2d<B>,
    add_mean: MeanShift,
}

/// Number of decoder stages (each doubles the resolution): the spans of
/// [`Decoder::forward_span`] lie in `0..STAGES`.
pub const STAGES: usize = 4;

/// Block options of a decoder.
pub fn decoder_block_options(cfg: &DecoderConfig) -> BlockOptions {
    BlockOptions {
        activation: cfg.activation,
        attention: cfg.attention,
        reduction: cfg.attention_reduction,
        res_scale: cfg.res_scale,
    }
}

/// `(in, width, blocks)` of each decoder stage: conv `in = F_t → width = 4·F_{t+1}`
/// (`4·F_3` for the last stage), residual group on `width` channels.
pub fn decoder_stage_widths(cfg: &DecoderConfig) -> [(usize, usize, usize); STAGES] {
    let f = cfg.features;
    std::array::from_fn(|t| (f[t], 4 * f[(t + 1).min(3)], cfg.blocks[t]))
}

impl<B: Backend> Decoder<B> {
    /// A freshly initialised decoder for `cfg` (assumed validated).
    pub fn new(cfg: &CvqnConfig, device: &B::Device) -> Self {
        let dec = &cfg.decoder;
        let opt = decoder_block_options(dec);
        let stages = decoder_stage_widths(dec)
            .into_iter()
            .map(|(c_in, n, blocks)| DecoderStage {
                conv: same_conv(c_in, n, 3, device),
                group: ResidualGroup::new(n, blocks, opt, device),
                gdn: dec.gdn.then(|| Gdn::new(n, true, device)),
            })
            .collect();
        Self {
            head: same_conv(cfg.code_channels, dec.features[0], 3, device),
            stages,
            tail: same_conv(dec.features[3], 3, 3, device),
            add_mean: MeanShift::new(cfg.rgb_mean, cfg.rgb_std, ShiftDirection::Add),
        }
    }

    /// `[B, C, h, w] → [B, 3, 16h, 16w]`. The tail convolution runs before the last
    /// pixel shuffle ([`conv3x3_after_shuffle`]: the same products, fewer positions).
    pub fn forward(&self, code: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = self.head.forward(code);
        let x = self.stages.iter().enumerate().fold(x, |x, (t, stage)| {
            self.stage_output(t, stage.group.forward(stage.conv.forward(x)))
        });
        self.add_mean.forward(x)
    }

    /// As [`Self::forward`] on a window of a latent, with the channel attention's
    /// whole-image means from `pool`: `Ok(image)`, or `Err(features)` — the input
    /// `[B, C_i, 2^t·h, 2^t·w]` of the first attention block (in stage `t`) whose mean
    /// `pool` lacks. Without attention it is [`Self::forward`].
    pub fn forward_pooled(
        &self,
        code: Tensor<B, 4>,
        pool: &mut GivenMeans<'_, B>,
    ) -> Result<Tensor<B, 4>, Tensor<B, 4>> {
        self.forward_span(code, 0..STAGES, pool)
    }

    /// The stages `span` alone (as [`Self::forward_pooled`]): from the code when the span
    /// starts at 0 (the head first), else from the output of stage `span.start − 1`
    /// (`[B, F_s, h, w]`); to the image when it ends at [`STAGES`] (the tail
    /// last), else to the output of stage `span.end − 1`, `2^|span|` times larger.
    /// `pool` gives the means of the span's attention blocks, in order.
    pub fn forward_span(
        &self,
        x: Tensor<B, 4>,
        span: std::ops::Range<usize>,
        pool: &mut GivenMeans<'_, B>,
    ) -> Result<Tensor<B, 4>, Tensor<B, 4>> {
        let mut x = if span.start == 0 {
            self.head.forward(x)
        } else {
            x
        };
        for t in span.clone() {
            let stage = &self.stages[t];
            x = self.stage_output(t, stage.group.forward_pooled(stage.conv.forward(x), pool)?);
        }
        if span.end == STAGES {
            if span.is_empty() {
                x = self.tail.forward(x);
            }
            x = self.add_mean.forward(x);
        }
        Ok(x)
    }

    /// The decoder as channels-last CPU kernels ([`CpuDecoder`]): `None` for a decoder
    /// with GDN (no kernel for it) or weights the backend cannot read.
    pub fn cpu_kernels(&self) -> Option<CpuDecoder> {
        let stages = self
            .stages
            .iter()
            .map(|stage| {
                if stage.gdn.is_some() {
                    return None;
                }
                Some((conv3x3_kernel(&stage.conv)?, stage.group.kernels()?))
            })
            .collect::<Option<Vec<_>>>()?;
        let (deep, bias) = folded_after_shuffle(&self.tail)?;
        Some(CpuDecoder {
            head: conv3x3_kernel(&self.head)?,
            stages,
            tail: conv3x3_kernel(&self.tail)?,
            tail_folded: conv3x3_kernel_of(deep, bias)?,
            add_mean: self.add_mean.add_scale_shift()?,
        })
    }

    /// The end of stage `t` after its residual group: (inverse GDN,) then the pixel
    /// shuffle — for the last stage with the tail run before it
    /// ([`conv3x3_after_shuffle`]).
    fn stage_output(&self, t: usize, mut x: Tensor<B, 4>) -> Tensor<B, 4> {
        if let Some(gdn) = &self.stages[t].gdn {
            x = gdn.forward(x);
        }
        if t == STAGES - 1 {
            conv3x3_after_shuffle(&self.tail, x)
        } else {
            pixel_shuffle(x, 2)
        }
    }
}
