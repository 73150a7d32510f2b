//! Pixel shuffle (depth-to-space) and its exact inverse (space-to-depth).
//!
//! Channel ordering follows PyTorch (`nn.PixelShuffle` / the seed's `pixel_unshuffle`):
//! channel `c·r² + i·r + j` of the deep tensor holds the pixel at offset `(i, j)` of
//! each `r×r` block of channel `c`.

use burn::nn::conv::Conv2d;
use burn::tensor::{Tensor, TensorData, backend::Backend, module::conv2d, ops::ConvOptions};

/// Space-to-depth: `[B, C, H·r, W·r] → [B, C·r², H, W]` (lossless).
///
/// # Panics
/// If `H` or `W` is not a multiple of `r` (callers pad images to a multiple of 16).
pub fn inverse_pixel_shuffle<B: Backend>(x: Tensor<B, 4>, r: usize) -> Tensor<B, 4> {
    let [b, c, hr, wr] = x.dims();
    assert!(
        hr.is_multiple_of(r) && wr.is_multiple_of(r),
        "spatial size {hr}×{wr} not divisible by {r}"
    );
    let (h, w) = (hr / r, wr / r);
    x.reshape([b, c, h, r, w, r])
        .permute([0, 1, 3, 5, 2, 4])
        .reshape([b, c * r * r, h, w])
}

/// Depth-to-space: `[B, C·r², H, W] → [B, C, H·r, W·r]`.
///
/// # Panics
/// If the channel count is not a multiple of `r²`.
pub fn pixel_shuffle<B: Backend>(x: Tensor<B, 4>, r: usize) -> Tensor<B, 4> {
    let [b, cr2, h, w] = x.dims();
    assert!(
        cr2.is_multiple_of(r * r),
        "{cr2} channels not divisible by {r}²"
    );
    let c = cr2 / (r * r);
    x.reshape([b, c, r, r, h, w])
        .permute([0, 1, 4, 2, 5, 3])
        .reshape([b, c, h * r, w * r])
}

/// `conv(pixel_shuffle(x, 2))` for a 3×3 convolution with padding 1 and stride 1
/// (`[B, 4C, H, W]` → `[B, O, 2H, 2W]`), computed as `pixel_shuffle(conv'(x), 2)`: `conv'`
/// is a 3×3 convolution `4C → 4O` at the low resolution whose weights are copies of
/// `conv`'s (every output pixel `(2y + a, 2x + b)` reads the 3×3 neighbourhood of
/// `(y, x)` in the deep tensor; zero padding falls on the same pixels). The products are
/// the same, summed in another order.
///
/// For a convolution with few input channels (the decoder's tail, `8 → 3`) this is the
/// faster way: 4× the multiply-adds, but on 4× fewer positions with 4× wider matrices,
/// and the pixel shuffle moves `4O` channels instead of `4C`. Other convolutions run as
/// written.
pub fn conv3x3_after_shuffle<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [_, c4, _, _] = x.dims();
    let [_, c, _, _] = conv.weight.dims();
    match folded_after_shuffle(conv) {
        Some((deep, bias)) if c4 == 4 * c => {
            let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
            pixel_shuffle(conv2d(x, deep, bias, options), 2)
        }
        _ => conv.forward(pixel_shuffle(x, 2)),
    }
}

/// The weights `[4O, 4C, 3, 3]` and bias `[4O]` of the low-resolution convolution
/// `conv'` of [`conv3x3_after_shuffle`] for a 3×3 convolution `C → O` with stride and
/// dilation 1 (`None` for any other).
pub fn folded_after_shuffle<B: Backend>(
    conv: &Conv2d<B>,
) -> Option<(Tensor<B, 4>, Option<Tensor<B, 1>>)> {
    let weight = conv.weight.val();
    let [o, c, kh, kw] = weight.dims();
    if [kh, kw] != [3, 3] || conv.stride != [1, 1] || conv.dilation != [1, 1] || conv.groups != 1 {
        return None;
    }
    let device = weight.device();
    // select[(ky, kx), (a, b, i, j, dy, dx)] = 1 where input row 2y + a + ky − 1 of the
    // shuffled tensor is row y + dy − 1, offset i, of the deep one (likewise columns).
    let tap = |a: usize, k: usize, i: usize, d: usize| 2 * d + i == a + k + 1;
    let mut select = vec![0f32; 9 * 144];
    for (k, (ky, kx)) in (0..3).flat_map(|y| (0..3).map(move |x| (y, x))).enumerate() {
        for col in 0..144 {
            let (a, b, i, j) = (col / 72, col / 36 % 2, col / 18 % 2, col / 9 % 2);
            let (dy, dx) = (col / 3 % 3, col % 3);
            if tap(a, ky, i, dy) && tap(b, kx, j, dx) {
                select[k * 144 + col] = 1.0;
            }
        }
    }
    let select = Tensor::<B, 2>::from_data(TensorData::new(select, [9, 144]), &device);
    // [o·c, 9] · [9, 144] → [o, c, (a, b), (i, j, dy, dx)] → [o, (a, b), c, (i, j, dy, dx)]
    let deep = weight
        .reshape([o * c, 9])
        .matmul(select)
        .reshape([o, c, 4, 36])
        .swap_dims(1, 2)
        .reshape([4 * o, 4 * c, 3, 3]);
    let bias = conv
        .bias
        .as_ref()
        .map(|b| b.val().reshape([o, 1]).repeat_dim(1, 4).reshape([4 * o]));
    Some((deep, bias))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::{Distribution, TensorData};

    type B = Flex;

    #[test]
    fn shuffle_inverts_unshuffle_and_back() {
        let device = Default::default();
        let x = Tensor::<B, 4>::random([2, 3, 8, 12], Distribution::Default, &device);
        let y = inverse_pixel_shuffle(x.clone(), 2);
        assert_eq!(y.dims(), [2, 12, 4, 6]);
        pixel_shuffle(y.clone(), 2)
            .into_data()
            .assert_eq(&x.clone().into_data(), true);
        inverse_pixel_shuffle(pixel_shuffle(y.clone(), 2), 2)
            .into_data()
            .assert_eq(&y.into_data(), true);
    }

    #[test]
    fn a_conv_after_the_shuffle_runs_before_it() {
        let device = Default::default();
        let x = Tensor::<B, 4>::random([2, 8, 5, 7], Distribution::Default, &device);
        for (c_out, kernel) in [(3, 3), (4, 1)] {
            let conv = crate::model::layers::conv::same_conv::<B>(2, c_out, kernel, &device);
            let direct = conv.forward(pixel_shuffle(x.clone(), 2));
            let folded = conv3x3_after_shuffle(&conv, x.clone());
            assert_eq!(folded.dims(), [2, c_out, 10, 14]);
            let diff = (direct - folded).abs().max().into_scalar();
            assert!(diff < 1e-5, "{c_out}×{kernel}: {diff}");
        }
    }

    #[test]
    fn matches_pytorch_channel_order() {
        // One channel 4×4 holding 0..16; unshuffle by 2: channel i·2+j holds x[2h+i, 2w+j].
        let device = Default::default();
        let x = Tensor::<B, 1, burn::tensor::Int>::arange(0..16, &device)
            .float()
            .reshape([1, 1, 4, 4]);
        let y = inverse_pixel_shuffle(x, 2);
        let expected = TensorData::from([[
            [[0.0f32, 2.0], [8.0, 10.0]],
            [[1.0, 3.0], [9.0, 11.0]],
            [[4.0, 6.0], [12.0, 14.0]],
            [[5.0, 7.0], [13.0, 15.0]],
        ]]);
        y.into_data().assert_eq(&expected, true);
    }
}
