//! Pixel shuffle (depth-to-space) and its exact inverse (space-to-depth).
//!
//! Channel ordering follows PyTorch (`nn.PixelShuffle` / the seed's `pixel_unshuffle`):
//! channel `c·r² + i·r + j` of the deep tensor holds the pixel at offset `(i, j)` of
//! each `r×r` block of channel `c`.

use burn::tensor::{Tensor, backend::Backend};

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
