//! `default_conv` of the seed: a k×k convolution with "same" padding and bias.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::backend::Backend;

/// A `k×k` convolution, stride 1, padding `k/2`, with bias: `[B, c_in, H, W] → [B, c_out, H, W]`.
pub fn same_conv<B: Backend>(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    device: &B::Device,
) -> Conv2d<B> {
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_padding(PaddingConfig2d::Explicit(
            kernel / 2,
            kernel / 2,
            kernel / 2,
            kernel / 2,
        ))
        .init(device)
}

/// Parameters of [`same_conv`]: weights plus bias.
pub const fn same_conv_params(c_in: usize, c_out: usize, kernel: usize) -> usize {
    c_in * c_out * kernel * kernel + c_out
}

/// Multiply-accumulates per output pixel of [`same_conv`].
pub const fn same_conv_macs(c_in: usize, c_out: usize, kernel: usize) -> usize {
    c_in * c_out * kernel * kernel
}
