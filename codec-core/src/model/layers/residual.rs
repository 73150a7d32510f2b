//! Residual channel-attention block (RCAB) and residual group.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::{Tensor, backend::Backend};

use super::activation;
use super::attention::{ChannelAttention, GivenMeans, attention_params};
use super::conv::{conv3x3_kernel, same_conv, same_conv_macs, same_conv_params};
use crate::config::{Activation, AttentionKind};

/// Options shared by all blocks of a transform.
#[derive(Debug, Clone, Copy)]
pub struct BlockOptions {
    /// Activation between the two convolutions.
    pub activation: Activation,
    /// Channel attention variant.
    pub attention: AttentionKind,
    /// Channel attention reduction.
    pub reduction: usize,
    /// Residual scale.
    pub res_scale: f64,
}

/// RCAB on `n` channels: `x + s · CA(conv(act(conv(x))))`, `[B, n, H, W] → [B, n, H, W]`.
///
/// (The seed evaluates its body twice; it is evaluated once here, as intended.)
#[derive(Module, Debug)]
pub struct Rcab<B: Backend> {
    conv1: Conv2d<B>,
    conv2: Conv2d<B>,
    attention: ChannelAttention<B>,
    activation: Activation,
    res_scale: f64,
}

impl<B: Backend> Rcab<B> {
    /// New block with fresh weights.
    pub fn new(n: usize, opt: BlockOptions, device: &B::Device) -> Self {
        Self {
            conv1: same_conv(n, n, 3, device),
            conv2: same_conv(n, n, 3, device),
            attention: ChannelAttention::new(opt.attention, n, opt.reduction, device),
            activation: opt.activation,
            res_scale: opt.res_scale,
        }
    }

    /// Forward pass.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let y = self.conv1.forward(x.clone());
        let y = self.conv2.forward(activation::apply(self.activation, y));
        let y = self.attention.forward(y);
        x + y.mul_scalar(self.res_scale)
    }

    /// As [`Self::forward`] with the attention's means from `pool`; `Err` with the
    /// attention's input when `pool` runs out ([`ChannelAttention::forward_pooled`]).
    pub fn forward_pooled(
        &self,
        x: Tensor<B, 4>,
        pool: &mut GivenMeans<'_, B>,
    ) -> Result<Tensor<B, 4>, Tensor<B, 4>> {
        let y = self.conv1.forward(x.clone());
        let y = self.conv2.forward(activation::apply(self.activation, y));
        let y = self.attention.forward_pooled(y, pool)?;
        Ok(x + y.mul_scalar(self.res_scale))
    }
}

impl<B: Backend> Rcab<B> {
    /// The block as CPU kernels (`None` if a convolution is not a 3×3 [`same_conv`] or
    /// the weights cannot be read).
    pub(crate) fn kernels(&self) -> Option<crate::model::cpu::CpuBlock> {
        Some(crate::model::cpu::CpuBlock {
            conv1: conv3x3_kernel(&self.conv1)?,
            conv2: conv3x3_kernel(&self.conv2)?,
            gate: self.attention.gate_kernel()?,
            activation: match self.activation {
                Activation::Relu => cvq_kernels::Activation::Relu,
                Activation::LeakyRelu { negative_slope } => {
                    cvq_kernels::Activation::LeakyRelu(negative_slope as f32)
                }
                Activation::Identity => cvq_kernels::Activation::Identity,
            },
            res_scale: self.res_scale as f32,
        })
    }
}

/// Residual group: `x + conv(RCAB_B(…RCAB_1(x)))`, `[B, n, H, W] → [B, n, H, W]`.
#[derive(Module, Debug)]
pub struct ResidualGroup<B: Backend> {
    blocks: Vec<Rcab<B>>,
    conv: Conv2d<B>,
}

impl<B: Backend> ResidualGroup<B> {
    /// A group of `blocks` RCABs on `n` channels.
    pub fn new(n: usize, blocks: usize, opt: BlockOptions, device: &B::Device) -> Self {
        Self {
            blocks: (0..blocks).map(|_| Rcab::new(n, opt, device)).collect(),
            conv: same_conv(n, n, 3, device),
        }
    }

    /// Forward pass.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let y = self
            .blocks
            .iter()
            .fold(x.clone(), |y, block| block.forward(y));
        x + self.conv.forward(y)
    }

    /// As [`Self::forward`] with the attention's means from `pool` (see
    /// [`Rcab::forward_pooled`]).
    pub fn forward_pooled(
        &self,
        x: Tensor<B, 4>,
        pool: &mut GivenMeans<'_, B>,
    ) -> Result<Tensor<B, 4>, Tensor<B, 4>> {
        let mut y = x.clone();
        for block in &self.blocks {
            y = block.forward_pooled(y, pool)?;
        }
        Ok(x + self.conv.forward(y))
    }
}

impl<B: Backend> ResidualGroup<B> {
    /// The group as CPU kernels: its blocks' and its last convolution's.
    pub(crate) fn kernels(&self) -> Option<crate::model::cpu::CpuGroup> {
        Some(crate::model::cpu::CpuGroup {
            blocks: self
                .blocks
                .iter()
                .map(Rcab::kernels)
                .collect::<Option<_>>()?,
            conv: conv3x3_kernel(&self.conv)?,
        })
    }
}

/// Parameters of a residual group.
pub fn residual_group_params(n: usize, blocks: usize, opt: &BlockOptions) -> usize {
    let rcab = 2 * same_conv_params(n, n, 3) + attention_params(opt.attention, n, opt.reduction);
    blocks * rcab + same_conv_params(n, n, 3)
}

/// Multiply-accumulates per pixel of a residual group (the attention's pooled linear
/// layers run once per image and are not counted; its gating multiply is).
pub fn residual_group_macs(n: usize, blocks: usize, opt: &BlockOptions) -> usize {
    let gate = if opt.attention == AttentionKind::None {
        0
    } else {
        n
    };
    blocks * (2 * same_conv_macs(n, n, 3) + gate) + same_conv_macs(n, n, 3)
}
