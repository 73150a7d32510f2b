//! The seed's 3D context entropy model: masked 3×3×3 convolutions over one channel
//! group treated as a one-channel volume `(channel, row, column)`.
//!
//! Raster order is `(c, y, x)`. The first layer is *hollow* (sees strictly earlier
//! positions), later layers are *solid* (also see their own position, which after the
//! hollow first layer only carries information from earlier positions). So the logits at
//! position `p` depend only on symbols at positions `< p`: an exact autoregressive model.
//!
//! Layers: hollow 1→F, ReLU, solid F→F, ReLU, solid F→F, + residual (first output),
//! solid F→L logits. (The seed also applies ReLU to the logits; that quirk is not kept:
//! logits stay unconstrained.)

use burn::module::Module;
use burn::nn::PaddingConfig3d;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::tensor::{
    Int, Tensor, TensorData, activation, backend::Backend, module::conv3d, ops::ConvOptions,
};

/// Which positions of the 3×3×3 kernel a masked convolution may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskType {
    /// Strictly earlier positions in raster order (excludes the centre).
    Hollow,
    /// Earlier positions and the centre.
    Solid,
}

/// The 27 mask values in `(z, y, x)` raster order.
pub fn mask_values(kind: MaskType) -> [f32; 27] {
    let centre = 13;
    let limit = if kind == MaskType::Solid {
        centre + 1
    } else {
        centre
    };
    std::array::from_fn(|i| if i < limit { 1.0 } else { 0.0 })
}

/// A 3×3×3 convolution (padding 1) whose kernel is multiplied by a causal mask:
/// `[B, c_in, D, H, W] → [B, c_out, D, H, W]`.
#[derive(Module, Debug)]
pub struct MaskedConv3d<B: Backend> {
    conv: Conv3d<B>,
    mask: Tensor<B, 5>,
}

impl<B: Backend> MaskedConv3d<B> {
    /// New masked convolution.
    pub fn new(kind: MaskType, c_in: usize, c_out: usize, device: &B::Device) -> Self {
        let conv = Conv3dConfig::new([c_in, c_out], [3, 3, 3])
            .with_padding(PaddingConfig3d::Explicit(1, 1, 1))
            .init(device);
        let mask = Tensor::from_data(
            TensorData::new(mask_values(kind).to_vec(), [1, 1, 3, 3, 3]),
            device,
        );
        Self { conv, mask }
    }

    /// The masked kernel `[c_out, c_in, 3, 3, 3]`.
    pub fn masked_weight(&self) -> Tensor<B, 5> {
        self.conv.weight.val() * self.mask.clone()
    }

    /// The bias `[c_out]`.
    pub fn bias(&self) -> Option<Tensor<B, 1>> {
        self.conv.bias.as_ref().map(|b| b.val())
    }

    /// Forward pass.
    pub fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        conv3d(
            x,
            self.masked_weight(),
            self.bias(),
            ConvOptions::new([1, 1, 1], [1, 1, 1], [1, 1, 1], 1),
        )
    }
}

/// Context model of one group with `L` levels and hidden width `F`.
#[derive(Module, Debug)]
pub struct ContextModel3d<B: Backend> {
    first: MaskedConv3d<B>,
    middle1: MaskedConv3d<B>,
    middle2: MaskedConv3d<B>,
    last: MaskedConv3d<B>,
}

impl<B: Backend> ContextModel3d<B> {
    /// New model for `levels` symbols with hidden width `features`.
    pub fn new(levels: usize, features: usize, device: &B::Device) -> Self {
        Self {
            first: MaskedConv3d::new(MaskType::Hollow, 1, features, device),
            middle1: MaskedConv3d::new(MaskType::Solid, features, features, device),
            middle2: MaskedConv3d::new(MaskType::Solid, features, features, device),
            last: MaskedConv3d::new(MaskType::Solid, features, levels, device),
        }
    }

    /// Logits of every symbol given the quantized values of the group:
    /// `[B, C_g, H, W]` → `[B, L, C_g, H, W]`.
    pub fn forward(&self, values: Tensor<B, 4>) -> Tensor<B, 5> {
        let x = values.unsqueeze_dim::<5>(1);
        let out1 = activation::relu(self.first.forward(x));
        let out2 = activation::relu(self.middle1.forward(out1.clone()));
        let out2 = self.middle2.forward(out2) + out1;
        self.last.forward(out2)
    }

    /// The four layers, in order (for export to the integer model).
    pub fn layers(&self) -> [&MaskedConv3d<B>; 4] {
        [&self.first, &self.middle1, &self.middle2, &self.last]
    }
}

/// The rate of each symbol of a group, in nats: logits `[B, L, C_g, H, W]`, symbols
/// `[B, C_g, H, W]` and the quantizer's soft assignments `[B, C_g, H, W, L]` →
/// `(nll, soft_nll)`, each `[B, C_g, H, W]`:
/// - `nll`: the negative log-likelihood of the symbol (what a coder spends);
/// - `soft_nll`: `−Σ_j s_j · ln p_j`, its expectation under the soft assignment `s` with
///   the probabilities `p` detached. Its gradient reaches the latent (through `s`), which
///   the symbol's own `nll` cannot: the symbol is an integer index.
pub fn symbol_rates<B: Backend>(
    logits: Tensor<B, 5>,
    symbols: Tensor<B, 4, Int>,
    soft_weights: Tensor<B, 5>,
) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let [b, _, c, h, w] = logits.dims();
    let log_p = activation::log_softmax(logits, 1);
    let nll = log_p
        .clone()
        .gather(1, symbols.unsqueeze_dim::<5>(1))
        .reshape([b, c, h, w])
        .neg();
    let soft_nll = (soft_weights.permute([0, 4, 1, 2, 3]) * log_p.detach())
        .sum_dim(1)
        .reshape([b, c, h, w])
        .neg();
    (nll, soft_nll)
}

/// `nll` with the gradient of `soft_nll` (both from [`symbol_rates`]):
/// `nll + soft_nll − stop_gradient(soft_nll)`, whose value is `nll`'s — the
/// straight-through estimator of the soft rate gradient.
pub fn with_soft_gradient<B: Backend>(nll: Tensor<B, 4>, soft_nll: Tensor<B, 4>) -> Tensor<B, 4> {
    nll + soft_nll.clone() - soft_nll.detach()
}

/// Parameters of a context model.
pub fn context_model_params(levels: usize, f: usize) -> usize {
    27 * (f + 2 * f * f + f * levels) + 3 * f + levels
}

/// Multiply-accumulates per latent symbol of a context model.
pub fn context_model_macs_per_symbol(levels: usize, f: usize) -> usize {
    27 * (f + 2 * f * f + f * levels)
}
