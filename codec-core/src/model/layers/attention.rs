//! Channel attention (CA): a per-channel gate computed from globally pooled features.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Tensor, activation, backend::Backend};

use super::conv::f32_data;
use crate::config::AttentionKind;

/// Channel attention over `C` channels: `[B, C, H, W] → [B, C, H, W]` (`x · gate(x)`).
///
/// The 1×1 convolutions of the seed act on a `[B, C, 1, 1]` pooled tensor, so they
/// are implemented as linear layers with identical parameter counts.
#[derive(Module, Debug)]
pub struct ChannelAttention<B: Backend> {
    layers: Vec<Linear<B>>,
    softmax: bool,
}

impl<B: Backend> ChannelAttention<B> {
    /// Builds the `kind` variant for `channels` with reduction `reduction`.
    pub fn new(kind: AttentionKind, channels: usize, reduction: usize, device: &B::Device) -> Self {
        let layers = attention_widths(kind, channels, reduction)
            .into_iter()
            .map(|(i, o)| LinearConfig::new(i, o).init(device))
            .collect();
        Self {
            layers,
            softmax: kind == AttentionKind::DeepSoftmax,
        }
    }

    /// Applies the gate (the identity for [`AttentionKind::None`]).
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        if self.layers.is_empty() {
            return x;
        }
        let [b, c, _, _] = x.dims();
        let pooled = x.clone().mean_dim(3).mean_dim(2).reshape([b, c]);
        self.gated(x, pooled)
    }

    /// As [`Self::forward`] with the pooled means taken from `pool` (`[B, C]`, the mean
    /// of `x` over the whole image when `x` is a window of it); stops with `x` itself
    /// when `pool` has no more means to give: the caller pools it (over the whole image)
    /// and runs again.
    pub fn forward_pooled(
        &self,
        x: Tensor<B, 4>,
        pool: &mut GivenMeans<'_, B>,
    ) -> Result<Tensor<B, 4>, Tensor<B, 4>> {
        if self.layers.is_empty() {
            return Ok(x);
        }
        match pool.means.get(pool.used) {
            Some(m) => {
                pool.used += 1;
                Ok(self.gated(x, m.clone()))
            }
            None => Err(x),
        }
    }

    /// `x · gate(pooled)`, `pooled` `[B, C]`.
    fn gated(&self, x: Tensor<B, 4>, pooled: Tensor<B, 2>) -> Tensor<B, 4> {
        let [b, c, _, _] = x.dims();
        let mut y = pooled;
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            y = layer.forward(y);
            if i < last {
                y = activation::relu(y);
            }
        }
        let gate = if self.softmax {
            activation::softmax(y, 1)
        } else {
            activation::sigmoid(y)
        };
        x * gate.reshape([b, c, 1, 1])
    }
}

impl<B: Backend> ChannelAttention<B> {
    /// The gate as a CPU kernel: `Some(None)` without attention ([`AttentionKind::None`]),
    /// `None` if the backend cannot read the weights.
    pub(crate) fn gate_kernel(&self) -> Option<Option<cvq_kernels::Gate>> {
        if self.layers.is_empty() {
            return Some(None);
        }
        let output = if self.softmax {
            cvq_kernels::GateOutput::Softmax
        } else {
            cvq_kernels::GateOutput::Sigmoid
        };
        let mut gate = cvq_kernels::Gate::new(output);
        for layer in &self.layers {
            let [d_in, d_out] = layer.weight.dims();
            let bias = match &layer.bias {
                Some(b) => Some(f32_data(b.val())?),
                None => None,
            };
            gate.push_layer(f32_data(layer.weight.val())?, bias, d_in, d_out);
        }
        Some(Some(gate))
    }
}

/// Pooled means handed to the channel-attention blocks of a network run on a window of
/// an image, in forward order (one `[B, C]` per block that has attention): what the
/// blocks would pool over the whole image. Tiled synthesis and analysis gather them
/// pass by pass (`crate::tiling`).
#[derive(Debug)]
pub struct GivenMeans<'a, B: Backend> {
    means: &'a [Tensor<B, 2>],
    used: usize,
}

impl<'a, B: Backend> GivenMeans<'a, B> {
    /// The means of the first `means.len()` attention blocks.
    pub fn new(means: &'a [Tensor<B, 2>]) -> Self {
        Self { means, used: 0 }
    }
}

/// `(in, out)` widths of the linear layers of each variant.
pub fn attention_widths(kind: AttentionKind, c: usize, reduction: usize) -> Vec<(usize, usize)> {
    let m = c / reduction;
    match kind {
        AttentionKind::Sigmoid => vec![(c, m), (m, c)],
        AttentionKind::DeepSoftmax => vec![(c, m), (m, m), (m, c), (c, c)],
        AttentionKind::None => vec![],
    }
}

/// Parameters of a channel attention block.
pub fn attention_params(kind: AttentionKind, c: usize, reduction: usize) -> usize {
    attention_widths(kind, c, reduction)
        .into_iter()
        .map(|(i, o)| i * o + o)
        .sum()
}
