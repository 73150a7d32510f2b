//! The transforms on the CPU with channels-last kernels ([`cvq_kernels`]): the same
//! networks as [`Decoder`](super::decoder::Decoder) and
//! [`Encoder`](super::encoder::Encoder) — their weights, read once — computed without
//! Burn, 2–3× faster than Burn's Flex backend on their few-channel layers (measurements
//! in `cvq-kernels`). Products are summed in another order, so values differ from the
//! Burn path in the last bits (decoded pixels by at most ±1, rarely; an encoder's
//! symbol where a value sits on a quantizer's decision boundary).
//!
//! Only the CPU tools use them ([`crate::codec::CodecModel::with_cpu_kernels`]); the
//! trainer and the WebGPU path run the Burn modules.

use std::ops::Range;

use cvq_kernels::{Activation, Conv3x3, Maps, gated_residual};

use super::decoder::STAGES;

/// A residual channel-attention block's kernels.
#[derive(Debug, Clone)]
pub(crate) struct CpuBlock {
    pub(crate) conv1: Conv3x3,
    pub(crate) conv2: Conv3x3,
    /// `None`: no channel attention.
    pub(crate) gate: Option<cvq_kernels::Gate>,
    pub(crate) activation: Activation,
    pub(crate) res_scale: f32,
}

/// A residual group's kernels: `x + conv(blocks(x))`.
#[derive(Debug, Clone)]
pub(crate) struct CpuGroup {
    pub(crate) blocks: Vec<CpuBlock>,
    pub(crate) conv: Conv3x3,
}

/// Where the channel attention's means come from.
#[derive(Debug, Clone, Copy)]
pub enum Means<'a> {
    /// Each block pools its own input (the whole image is the input).
    Own,
    /// The whole image's means of the network's attention blocks, in forward order (a
    /// window of the image is the input); a block past them stops the run.
    Given(&'a [Vec<f32>]),
}

/// The attention means a run has used so far.
struct MeanSource<'a> {
    means: Means<'a>,
    used: usize,
}

impl MeanSource<'_> {
    /// The gate of `gate` for `features` (its block's input), or `None` when the given
    /// means have run out.
    fn gate(&mut self, gate: &cvq_kernels::Gate, features: &Maps) -> Option<Vec<f32>> {
        match self.means {
            Means::Own => Some(gate.of(&features.means())),
            Means::Given(m) => {
                let mean = m.get(self.used)?;
                self.used += 1;
                Some(gate.of(mean))
            }
        }
    }
}

impl CpuGroup {
    /// `x + conv(blocks(x))` (see [`CpuDecoder::forward_span`] for `Err`).
    fn forward(&self, x: &Maps, pool: &mut MeanSource<'_>, threads: usize) -> Result<Maps, Maps> {
        let mut y: Option<Maps> = None;
        for block in &self.blocks {
            let cur = y.as_ref().unwrap_or(x);
            let hidden = block.conv1.forward(cur, None, block.activation, threads);
            let mut z = block
                .conv2
                .forward(&hidden, None, Activation::Identity, threads);
            let gate = match &block.gate {
                None => None,
                Some(g) => match pool.gate(g, &z) {
                    Some(gate) => Some(gate),
                    None => return Err(z),
                },
            };
            gated_residual(cur, &mut z, gate.as_deref(), block.res_scale);
            y = Some(z);
        }
        let last = y.as_ref().unwrap_or(x);
        Ok(self
            .conv
            .forward(last, Some(x), Activation::Identity, threads))
    }
}

/// The decoder's kernels (see the module docs).
#[derive(Debug, Clone)]
pub struct CpuDecoder {
    pub(crate) head: Conv3x3,
    /// Each stage's convolution and residual group.
    pub(crate) stages: Vec<(Conv3x3, CpuGroup)>,
    /// The tail `F_3 → 3` as written (run after the last shuffle: an empty span's end).
    pub(crate) tail: Conv3x3,
    /// The tail folded before the last shuffle (`4·F_3 → 12`).
    pub(crate) tail_folded: Conv3x3,
    /// `(scale, shift)` of the output's mean shift.
    pub(crate) add_mean: ([f32; 3], [f32; 3]),
}

impl CpuDecoder {
    /// As [`Decoder::forward_span`](super::decoder::Decoder::forward_span) on
    /// channels-last maps (`x`: the code for a span from stage 0, else the previous
    /// stage's output; batch 1), each convolution split over `threads` threads:
    /// `Ok(output)` (the image, values ≈ `0..1`, when the span ends the decoder), or
    /// `Err(features)` — the input of the first attention block whose mean `means` lacks.
    pub fn forward_span(
        &self,
        x: Maps,
        span: Range<usize>,
        means: Means<'_>,
        threads: usize,
    ) -> Result<Maps, Maps> {
        let mut pool = MeanSource { means, used: 0 };
        let mut x = if span.start == 0 {
            self.head.forward(&x, None, Activation::Identity, threads)
        } else {
            x
        };
        for t in span.clone() {
            let (conv, group) = &self.stages[t];
            let input = conv.forward(&x, None, Activation::Identity, threads);
            let y = group.forward(&input, &mut pool, threads)?;
            x = if t == STAGES - 1 {
                let tail = &self.tail_folded;
                tail.forward(&y, None, Activation::Identity, threads)
                    .pixel_shuffle()
            } else {
                y.pixel_shuffle()
            };
        }
        if span.end == STAGES {
            if span.is_empty() {
                x = self.tail.forward(&x, None, Activation::Identity, threads);
            }
            x.affine(&self.add_mean.0, &self.add_mean.1);
        }
        Ok(x)
    }
}

/// The encoder's kernels (see the module docs).
#[derive(Debug, Clone)]
pub struct CpuEncoder {
    /// `(mean, std)` of the input's normalisation.
    pub(crate) sub_mean: ([f32; 3], [f32; 3]),
    pub(crate) head: Conv3x3,
    /// Each stage's residual group (after the space-to-depth) and convolution.
    pub(crate) stages: Vec<(CpuGroup, Conv3x3)>,
    pub(crate) tail: Conv3x3,
}

impl CpuEncoder {
    /// As [`Encoder::forward_pooled`](super::encoder::Encoder::forward_pooled) on
    /// channels-last maps: `image` (`H × W × 3`, values in `0..1`, `H`, `W` multiples of
    /// 16) → `Ok(latent)` (`H/16 × W/16 × C`), or `Err(features)` — the input of the
    /// first attention block whose mean `means` lacks.
    pub fn forward(&self, image: Maps, means: Means<'_>, threads: usize) -> Result<Maps, Maps> {
        self.forward_span(image, 0..STAGES, means, threads)
    }

    /// As [`Encoder::forward_span`](super::encoder::Encoder::forward_span) on
    /// channels-last maps (`x`: the image for a span from stage 0, else the previous
    /// stage's output; batch 1), each convolution split over `threads` threads.
    pub fn forward_span(
        &self,
        x: Maps,
        span: Range<usize>,
        means: Means<'_>,
        threads: usize,
    ) -> Result<Maps, Maps> {
        let mut pool = MeanSource { means, used: 0 };
        let mut x = if span.start == 0 {
            let mut image = x;
            image.normalize(&self.sub_mean.0, &self.sub_mean.1);
            self.head
                .forward(&image, None, Activation::Identity, threads)
        } else {
            x
        };
        for (group, conv) in &self.stages[span.clone()] {
            let deep = x.pixel_unshuffle();
            let y = group.forward(&deep, &mut pool, threads)?;
            x = conv.forward(&y, None, Activation::Identity, threads);
        }
        Ok(if span.end == STAGES {
            self.tail.forward(&x, None, Activation::Identity, threads)
        } else {
            x
        })
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;
    use burn::tensor::{Distribution, Tensor};

    use super::*;
    use crate::config::{Activation as Act, AttentionKind, CvqnConfig, Preset};
    use crate::model::decoder::Decoder;
    use crate::model::encoder::Encoder;
    use crate::model::layers::attention::GivenMeans;
    use crate::model::layers::conv::f32_data;

    type B = Flex;

    fn maps(t: Tensor<B, 4>) -> Maps {
        let [_, c, h, w] = t.dims();
        Maps::from_planes(&f32_data(t).unwrap(), c, h, w)
    }

    fn max_diff(a: &Maps, b: &Maps) -> f32 {
        assert_eq!(
            (a.height, a.width, a.channels),
            (b.height, b.width, b.channels)
        );
        a.data
            .iter()
            .zip(&b.data)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// Every attention variant, a leaky activation and a residual scale: the kernels
    /// compute the Burn decoder's image, whole and span by span with given means, and
    /// stop at the same attention input.
    #[test]
    fn kernels_compute_the_burn_decoder() {
        let device = Default::default();
        for attention in [
            AttentionKind::None,
            AttentionKind::Sigmoid,
            AttentionKind::DeepSoftmax,
        ] {
            let mut cfg = CvqnConfig::preset(Preset::Tiny);
            cfg.decoder.attention = attention;
            cfg.decoder.blocks = [1, 1, 1, 1];
            cfg.decoder.activation = Act::LeakyRelu {
                negative_slope: 0.05,
            };
            cfg.decoder.res_scale = 0.5;
            let decoder = Decoder::<B>::new(&cfg, &device);
            let kernels = decoder
                .cpu_kernels()
                .expect("kernels for a decoder without GDN");
            let code =
                Tensor::<B, 4>::random([1, 8, 3, 5], Distribution::Normal(0.0, 1.0), &device);
            let burn = maps(decoder.forward(code.clone()));
            let ours = kernels
                .forward_span(maps(code.clone()), 0..STAGES, Means::Own, 2)
                .unwrap();
            assert_eq!((ours.height, ours.width, ours.channels), (48, 80, 3));
            assert!(
                max_diff(&burn, &ours) < 1e-4,
                "{attention:?}: {}",
                max_diff(&burn, &ours)
            );

            // Stages 0..2 then 2..4, with made-up means for the attention blocks.
            let given: Vec<Vec<f32>> = (0..4)
                .map(|i| {
                    (0..64)
                        .map(|c| 0.01 * (c as f32) - 0.1 * i as f32)
                        .collect()
                })
                .collect();
            let blocks = if attention == AttentionKind::None {
                0
            } else {
                2
            };
            let widths = crate::model::decoder::decoder_stage_widths(&cfg.decoder);
            let tensors = |from: usize| -> Vec<Tensor<B, 2>> {
                (from..from + blocks)
                    .map(|i| {
                        let c = widths[i].1;
                        Tensor::from_data(
                            burn::tensor::TensorData::new(given[i][..c].to_vec(), [1, c]),
                            &device,
                        )
                    })
                    .collect()
            };
            let cut = |from: usize| -> Vec<Vec<f32>> {
                (from..from + blocks)
                    .map(|i| given[i][..widths[i].1].to_vec())
                    .collect()
            };
            let (t01, t23) = (tensors(0), tensors(2));
            let mid_burn = decoder
                .forward_span(code.clone(), 0..2, &mut GivenMeans::new(&t01))
                .unwrap();
            let mid = kernels
                .forward_span(maps(code.clone()), 0..2, Means::Given(&cut(0)), 1)
                .unwrap();
            assert!(max_diff(&maps(mid_burn.clone()), &mid) < 1e-4);
            let end_burn = decoder
                .forward_span(mid_burn.clone(), 2..STAGES, &mut GivenMeans::new(&t23))
                .unwrap();
            let end = kernels
                .forward_span(mid.clone(), 2..STAGES, Means::Given(&cut(2)), 2)
                .unwrap();
            assert!(max_diff(&maps(end_burn), &end) < 1e-4);
            if blocks > 0 {
                // Without means: both stop at stage 2's attention input.
                let stop_burn = decoder
                    .forward_span(mid_burn, 2..STAGES, &mut GivenMeans::new(&[]))
                    .unwrap_err();
                let stop = kernels
                    .forward_span(mid, 2..STAGES, Means::Given(&[]), 1)
                    .unwrap_err();
                assert!(max_diff(&maps(stop_burn), &stop) < 1e-4);
            }
        }
    }

    /// The encoder's kernels compute the Burn encoder's latent, with its own means and
    /// with given ones, and stop at the same attention input.
    #[test]
    fn kernels_compute_the_burn_encoder() {
        let device = Default::default();
        for attention in [AttentionKind::None, AttentionKind::Sigmoid] {
            let mut cfg = CvqnConfig::preset(Preset::Tiny);
            cfg.encoder.attention = attention;
            cfg.encoder.blocks = [0, 1, 1, 1];
            cfg.encoder.activation = Act::LeakyRelu {
                negative_slope: 0.2,
            };
            let encoder = Encoder::<B>::new(&cfg, &device);
            let kernels = encoder
                .cpu_kernels()
                .expect("kernels for an encoder without GDN");
            let image = Tensor::<B, 4>::random([1, 3, 48, 32], Distribution::Default, &device);
            let burn = maps(encoder.forward(image.clone()));
            let ours = kernels.forward(maps(image.clone()), Means::Own, 2).unwrap();
            assert_eq!((ours.height, ours.width, ours.channels), (3, 2, 8));
            assert!(
                max_diff(&burn, &ours) < 1e-4,
                "{attention:?}: {}",
                max_diff(&burn, &ours)
            );
            if attention == AttentionKind::None {
                continue;
            }
            let widths = crate::model::encoder::encoder_stage_widths(&cfg.encoder);
            let given: Vec<Vec<f32>> = (1..4)
                .map(|t| (0..widths[t].0).map(|c| 0.02 * c as f32 - 0.3).collect())
                .collect();
            let tensors: Vec<Tensor<B, 2>> = given
                .iter()
                .map(|m| {
                    Tensor::from_data(
                        burn::tensor::TensorData::new(m.clone(), [1, m.len()]),
                        &device,
                    )
                })
                .collect();
            let burn = encoder
                .forward_pooled(image.clone(), &mut GivenMeans::new(&tensors))
                .unwrap();
            let ours = kernels
                .forward(maps(image.clone()), Means::Given(&given), 1)
                .unwrap();
            assert!(max_diff(&maps(burn), &ours) < 1e-4);
            let stop_burn = encoder
                .forward_pooled(image.clone(), &mut GivenMeans::new(&tensors[..1]))
                .unwrap_err();
            let stop = kernels
                .forward(maps(image), Means::Given(&given[..1]), 2)
                .unwrap_err();
            assert!(max_diff(&maps(stop_burn), &stop) < 1e-4);
        }
    }

    #[test]
    fn gdn_has_no_kernels() {
        let mut cfg = CvqnConfig::preset(Preset::Tiny);
        cfg.decoder.gdn = true;
        assert!(
            Decoder::<B>::new(&cfg, &Default::default())
                .cpu_kernels()
                .is_none()
        );
    }
}
