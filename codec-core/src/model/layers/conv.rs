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

/// A tensor's values as `f32` (`None` if the backend cannot read them).
pub(crate) fn f32_data<B: Backend, const D: usize>(
    t: burn::tensor::Tensor<B, D>,
) -> Option<Vec<f32>> {
    t.into_data().convert::<f32>().into_vec::<f32>().ok()
}

/// The channels-last CPU kernel of a 3×3 convolution with padding 1 and equal strides
/// (a [`same_conv`], or the recurrent encoder's stride-2 convolutions; `None` for any
/// other convolution, or weights the backend cannot read).
pub(crate) fn conv3x3_kernel<B: Backend>(conv: &Conv2d<B>) -> Option<cvq_kernels::Conv3x3> {
    let padded = matches!(
        conv.padding,
        PaddingConfig2d::Same | PaddingConfig2d::Explicit(1, 1, 1, 1)
    );
    let [sy, sx] = conv.stride;
    if conv.kernel_size != [3, 3] || sy != sx || sy == 0 || conv.dilation != [1, 1] {
        return None;
    }
    if conv.groups != 1 || !padded {
        return None;
    }
    Some(conv3x3_kernel_of(conv.weight.val(), conv.bias.as_ref().map(|b| b.val()))?.with_stride(sy))
}

/// The channels-last CPU kernel of a 1×1 convolution (stride 1, no padding; `None` for
/// any other convolution, or weights the backend cannot read).
pub(crate) fn conv1x1_kernel<B: Backend>(conv: &Conv2d<B>) -> Option<cvq_kernels::Conv1x1> {
    let unpadded = matches!(
        conv.padding,
        PaddingConfig2d::Valid | PaddingConfig2d::Explicit(0, 0, 0, 0)
    );
    if conv.kernel_size != [1, 1] || conv.stride != [1, 1] || conv.groups != 1 || !unpadded {
        return None;
    }
    let [o, c, _, _] = conv.weight.dims();
    let bias = match conv.bias.as_ref() {
        Some(b) => Some(f32_data(b.val())?),
        None => None,
    };
    Some(cvq_kernels::Conv1x1::new(
        &f32_data(conv.weight.val())?,
        bias.as_deref(),
        o,
        c,
    ))
}

/// The channels-last CPU kernel of a 3×3 convolution with weights `[O, C, 3, 3]` and an
/// optional bias `[O]`, stride 1 and zero padding 1.
pub(crate) fn conv3x3_kernel_of<B: Backend>(
    weight: burn::tensor::Tensor<B, 4>,
    bias: Option<burn::tensor::Tensor<B, 1>>,
) -> Option<cvq_kernels::Conv3x3> {
    let [o, c, kh, kw] = weight.dims();
    if [kh, kw] != [3, 3] {
        return None;
    }
    let bias = match bias {
        Some(b) => Some(f32_data(b)?),
        None => None,
    };
    Some(cvq_kernels::Conv3x3::new(
        &f32_data(weight)?,
        bias.as_deref(),
        o,
        c,
    ))
}
