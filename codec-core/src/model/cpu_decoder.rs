//! The decoder on the CPU with channels-last kernels ([`cvq_kernels`]): the same
//! network as [`Decoder`](super::decoder::Decoder) — its weights, read once — computed
//! without Burn, 2–3× faster than Burn's Flex backend on the decoder's few-channel
//! layers (measurements in `cvq-kernels`). Products are summed in another order, so
//! values differ from the Burn path in the last bits (pixels by at most ±1, rarely).
//!
//! Only the CPU tools use it ([`crate::codec::CodecModel::with_cpu_decoder`]); the
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

/// One decoder stage: conv → residual group → pixel shuffle (the last stage: its tail
/// convolution, folded to run before the shuffle).
#[derive(Debug, Clone)]
pub(crate) struct CpuStage {
    pub(crate) conv: Conv3x3,
    pub(crate) blocks: Vec<CpuBlock>,
    pub(crate) group_conv: Conv3x3,
}

/// Where the channel attention's means come from.
#[derive(Debug, Clone, Copy)]
pub enum Means<'a> {
    /// Each block pools its own input (the whole image is the input).
    Own,
    /// The whole image's means of the span's attention blocks, in forward order (a
    /// window of the image is the input); a block past them stops the run.
    Given(&'a [Vec<f32>]),
}

/// The decoder's kernels (see the module docs).
#[derive(Debug, Clone)]
pub struct CpuDecoder {
    pub(crate) head: Conv3x3,
    pub(crate) stages: Vec<CpuStage>,
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
        let conv = |k: &Conv3x3, x: &Maps, residual: Option<&Maps>, act| {
            k.forward(x, residual, act, threads)
        };
        let mut x = if span.start == 0 {
            conv(&self.head, &x, None, Activation::Identity)
        } else {
            x
        };
        let mut given = 0;
        for t in span.clone() {
            let stage = &self.stages[t];
            let input = conv(&stage.conv, &x, None, Activation::Identity);
            let mut y: Option<Maps> = None;
            for block in &stage.blocks {
                let cur = y.as_ref().unwrap_or(&input);
                let hidden = conv(&block.conv1, cur, None, block.activation);
                let mut z = conv(&block.conv2, &hidden, None, Activation::Identity);
                let gate = match (&block.gate, means) {
                    (None, _) => None,
                    (Some(g), Means::Own) => Some(g.of(&z.means())),
                    (Some(g), Means::Given(m)) => match m.get(given) {
                        Some(m) => {
                            given += 1;
                            Some(g.of(m))
                        }
                        None => return Err(z),
                    },
                };
                gated_residual(cur, &mut z, gate.as_deref(), block.res_scale);
                y = Some(z);
            }
            let last = y.as_ref().unwrap_or(&input);
            let group = conv(&stage.group_conv, last, Some(&input), Activation::Identity);
            x = if t == STAGES - 1 {
                conv(&self.tail_folded, &group, None, Activation::Identity).pixel_shuffle()
            } else {
                group.pixel_shuffle()
            };
        }
        if span.end == STAGES {
            if span.is_empty() {
                x = conv(&self.tail, &x, None, Activation::Identity);
            }
            x.affine(&self.add_mean.0, &self.add_mean.1);
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;
    use burn::tensor::{Distribution, Tensor};

    use super::*;
    use crate::config::{Activation as Act, AttentionKind, CvqnConfig, Preset};
    use crate::model::decoder::Decoder;
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
