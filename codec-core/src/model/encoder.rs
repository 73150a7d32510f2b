//! Analysis transform: image `[B, 3, H, W]` (values in `0..1`) → latent `[B, C, H/16, W/16]`.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::{Tensor, backend::Backend};

use super::cpu::CpuEncoder;
use super::decoder::STAGES;
use super::layers::attention::GivenMeans;
use super::layers::conv::{conv3x3_kernel, same_conv};
use super::layers::gdn::Gdn;
use super::layers::mean_shift::{MeanShift, ShiftDirection};
use super::layers::pixel_shuffle::inverse_pixel_shuffle;
use super::layers::residual::{BlockOptions, ResidualGroup};
use crate::config::{CvqnConfig, EncoderConfig};

/// One encoder stage: inverse pixel shuffle → (GDN) → residual group → conv.
#[derive(Module, Debug)]
pub struct EncoderStage<B: Backend> {
    gdn: Option<Gdn<B>>,
    group: ResidualGroup<B>,
    conv: Conv2d<B>,
}

/// The encoder (×16 down-sampling).
#[derive(Module, Debug)]
pub struct Encoder<B: Backend> {
    sub_mean: MeanShift,
    head: Conv2d<B>,
    stages: Vec<EncoderStage<B>>,
    tail: Conv2d<B>,
}

/// Block options of an encoder.
pub fn encoder_block_options(cfg: &EncoderConfig) -> BlockOptions {
    BlockOptions {
        activation: cfg.activation,
        attention: cfg.attention,
        reduction: cfg.attention_reduction,
        res_scale: cfg.res_scale,
    }
}

/// `(width, blocks, out)` of each encoder stage: it works on `width = 4·F_t` channels and
/// outputs `out = F_{t+1}` (`F_3` for the last stage).
pub fn encoder_stage_widths(cfg: &EncoderConfig) -> [(usize, usize, usize); 4] {
    let f = cfg.features;
    std::array::from_fn(|t| (4 * f[t], cfg.blocks[t], f[(t + 1).min(3)]))
}

impl<B: Backend> Encoder<B> {
    /// A freshly initialised encoder for `cfg` (assumed validated).
    pub fn new(cfg: &CvqnConfig, device: &B::Device) -> Self {
        let enc = &cfg.encoder;
        let opt = encoder_block_options(enc);
        let stages = encoder_stage_widths(enc)
            .into_iter()
            .map(|(n, blocks, out)| EncoderStage {
                gdn: enc.gdn.then(|| Gdn::new(n, false, device)),
                group: ResidualGroup::new(n, blocks, opt, device),
                conv: same_conv(n, out, 3, device),
            })
            .collect();
        Self {
            sub_mean: MeanShift::new(cfg.rgb_mean, cfg.rgb_std, ShiftDirection::Subtract),
            head: same_conv(3, enc.features[0], 3, device),
            stages,
            tail: same_conv(enc.features[3], cfg.code_channels, 3, device),
        }
    }

    /// `[B, 3, H, W] → [B, C, H/16, W/16]`; `H` and `W` must be multiples of 16.
    pub fn forward(&self, image: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = self.head.forward(self.sub_mean.forward(image));
        let x = self.stages.iter().fold(x, |x, stage| {
            let mut x = inverse_pixel_shuffle(x, 2);
            if let Some(gdn) = &stage.gdn {
                x = gdn.forward(x);
            }
            stage.conv.forward(stage.group.forward(x))
        });
        self.tail.forward(x)
    }

    /// The encoder as channels-last CPU kernels ([`CpuEncoder`]): `None` for an encoder
    /// with GDN (no kernel for it) or weights the backend cannot read.
    pub fn cpu_kernels(&self) -> Option<CpuEncoder> {
        let stages = self
            .stages
            .iter()
            .map(|stage| {
                if stage.gdn.is_some() {
                    return None;
                }
                Some((stage.group.kernels()?, conv3x3_kernel(&stage.conv)?))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(CpuEncoder {
            sub_mean: self.sub_mean.subtract_mean_std()?,
            head: conv3x3_kernel(&self.head)?,
            stages,
            tail: conv3x3_kernel(&self.tail)?,
        })
    }

    /// As [`Self::forward`] on a window of an image, with the channel attention's
    /// whole-image means from `pool`: `Ok(latent)`, or `Err(features)` — the input of the
    /// first attention block whose mean `pool` lacks (as [`super::decoder::Decoder::forward_pooled`]).
    pub fn forward_pooled(
        &self,
        image: Tensor<B, 4>,
        pool: &mut GivenMeans<'_, B>,
    ) -> Result<Tensor<B, 4>, Tensor<B, 4>> {
        self.forward_span(image, 0..STAGES, pool)
    }

    /// The stages `span` alone (as [`Self::forward_pooled`]): from the image when the
    /// span starts at 0 (mean shift and head first), else from the output of stage
    /// `span.start − 1` (`[B, F_s, h, w]`); to the latent when it ends at [`STAGES`]
    /// (the tail last), else to the output of stage `span.end − 1`, `2^|span|` times
    /// smaller. `pool` gives the means of the span's attention blocks, in order.
    pub fn forward_span(
        &self,
        x: Tensor<B, 4>,
        span: std::ops::Range<usize>,
        pool: &mut GivenMeans<'_, B>,
    ) -> Result<Tensor<B, 4>, Tensor<B, 4>> {
        let mut x = if span.start == 0 {
            self.head.forward(self.sub_mean.forward(x))
        } else {
            x
        };
        for stage in &self.stages[span.clone()] {
            x = inverse_pixel_shuffle(x, 2);
            if let Some(gdn) = &stage.gdn {
                x = gdn.forward(x);
            }
            x = stage.conv.forward(stage.group.forward_pooled(x, pool)?);
        }
        Ok(if span.end == STAGES {
            self.tail.forward(x)
        } else {
            x
        })
    }
}
