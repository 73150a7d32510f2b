//! The parallel-decodable entropy model of one group (float twin of
//! `cvq_entropy::IntParallelGroupModel`).
//!
//! Group `g` (`c` channels, `L` levels) is conditioned on the `P` channels of the more
//! important groups `g+1..G` (the *prior*, absent for the most important group) and on
//! a checkerboard inside the group: anchors (`(y + x)` even) see the prior only, the
//! other half also sees the anchors through a 3×3 convolution whose output is zeroed
//! at anchor positions (its centre tap reads a zeroed non-anchor, so no position sees
//! itself):
//!
//! ```text
//! f      = prior3×3(prev) + r_k + (1 − A) ⊙ context3×3(A ⊙ values)   [B, F, h, w]
//! logits = out1×1(relu(hidden1×1(relu(f))))                           [B, c·L, h, w]
//! ```
//!
//! `r_k` (`[F]`) is the learned bias of rate point `k` of a variable-rate model (absent
//! in a fixed-rate one).
//!
//! One forward pass gives the exact distributions of both decoding passes, so training
//! costs one evaluation.

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::tensor::{Tensor, TensorData, activation, backend::Backend};

use crate::model::layers::conv::{same_conv, same_conv_macs, same_conv_params};

/// Parallel context model of one group.
#[derive(Module, Debug)]
pub struct ParallelContextModel<B: Backend> {
    /// 3×3, `P → F` (`None` for the most important group).
    pub prior: Option<Conv2d<B>>,
    /// 3×3, `c → F`, on the anchor values.
    pub context: Conv2d<B>,
    /// 1×1, `F → F`.
    pub hidden: Conv2d<B>,
    /// 1×1, `F → c·L`.
    pub out: Conv2d<B>,
    /// Per-rate-point biases `[K, F]` of a variable-rate model.
    pub rate_bias: Option<Param<Tensor<B, 2>>>,
    levels: usize,
    channels: usize,
}

/// Anchor mask `[1, 1, h, w]`: 1 where `(y + x)` is even.
pub fn anchor_mask<B: Backend>(h: usize, w: usize, device: &B::Device) -> Tensor<B, 4> {
    let data: Vec<f32> = (0..h * w)
        .map(|i| {
            if (i / w + i % w).is_multiple_of(2) {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    Tensor::from_data(TensorData::new(data, [1, 1, h, w]), device)
}

impl<B: Backend> ParallelContextModel<B> {
    /// New model: `levels` symbols, `channels` in the group, `prior_channels` of the
    /// more important groups, hidden width `features`, `rate_points` rate biases
    /// (starting at zero; none for 1).
    pub fn new(
        levels: usize,
        channels: usize,
        prior_channels: usize,
        features: usize,
        rate_points: usize,
        device: &B::Device,
    ) -> Self {
        Self {
            prior: (prior_channels > 0).then(|| same_conv(prior_channels, features, 3, device)),
            context: same_conv(channels, features, 3, device),
            hidden: same_conv(features, features, 1, device),
            out: same_conv(features, channels * levels, 1, device),
            rate_bias: (rate_points > 1)
                .then(|| Param::from_tensor(Tensor::zeros([rate_points, features], device))),
            levels,
            channels,
        }
    }

    /// Number of levels `L`.
    pub fn levels(&self) -> usize {
        self.levels
    }

    /// Channels `c` of the group.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Logits of every symbol: `prior` `[B, P, h, w]` (`None` iff `P = 0`), `values`
    /// `[B, c, h, w]`, rate point `rate` (0 for a fixed-rate model) → `[B, L, c, h, w]`.
    pub fn forward(
        &self,
        prior: Option<Tensor<B, 4>>,
        values: Tensor<B, 4>,
        rate: usize,
    ) -> Tensor<B, 5> {
        let [b, _, h, w] = values.dims();
        let anchors = anchor_mask::<B>(h, w, &values.device());
        let others = anchors.clone().neg().add_scalar(1.0);
        let mut f = self.context.forward(values * anchors) * others;
        if let (Some(conv), Some(prev)) = (&self.prior, prior) {
            f = f + conv.forward(prev);
        }
        if let Some(bias) = &self.rate_bias {
            let features = bias.dims()[1];
            f = f + bias.val().narrow(0, rate, 1).reshape([1, features, 1, 1]);
        }
        let f = activation::relu(self.hidden.forward(activation::relu(f)));
        self.out
            .forward(f)
            .reshape([b, self.channels, self.levels, h, w])
            .swap_dims(1, 2)
    }
}

/// Parameters of a parallel context model.
pub fn parallel_model_params(levels: usize, c: usize, prior: usize, f: usize) -> usize {
    let prior_params = if prior > 0 {
        same_conv_params(prior, f, 3)
    } else {
        0
    };
    prior_params
        + same_conv_params(c, f, 3)
        + same_conv_params(f, f, 1)
        + same_conv_params(f, c * levels, 1)
}

/// Multiply-accumulates per latent position (all `c` symbols of the group).
pub fn parallel_model_macs_per_position(levels: usize, c: usize, prior: usize, f: usize) -> usize {
    same_conv_macs(prior, f, 3)
        + same_conv_macs(c, f, 3)
        + same_conv_macs(f, f, 1)
        + same_conv_macs(f, c * levels, 1)
}
