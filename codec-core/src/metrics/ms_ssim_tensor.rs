//! Differentiable MS-SSIM and PSNR as Burn tensor ops (any backend).
//!
//! Same definition as the `f64` [`super::ms_ssim_rgb8`] (`pytorch_msssim`
//! 1.0.0, `data_range = 255`), written with [`conv2d`] / [`avg_pool2d`] so it
//! runs on any [`Backend`] and supports autodiff (use `1 - ms_ssim` as a loss).

use burn::tensor::{
    Tensor, TensorData,
    activation::relu,
    backend::Backend,
    module::{avg_pool2d, conv2d},
    ops::ConvOptions,
};

use super::ms_ssim::{MS_SSIM_MIN_SIDE, MS_SSIM_WEIGHTS, check_min_side, ssim_window};
use super::{DATA_RANGE, MetricError, WINDOW_SIZE};

/// Maps filtered together per scale: x, y, x^2, y^2, x*y (3 channels each).
const MAPS: usize = 5;
const CHANNELS: usize = 3;

/// Per-image MS-SSIM of two RGB batches, averaged over the 3 channels.
///
/// * `reference`, `distorted`: `[batch, 3, H, W]`, values in `0..=255`
///   (`data_range = 255`), `min(H, W) >= 161`.
/// * returns: `[batch]`, each value in `[0, 1]` (1 for identical images).
///
/// Differentiable w.r.t. both inputs. Per scale the five maps (x, y, x², y²,
/// xy) are stacked to `[batch, 15, H, W]` and blurred with one depthwise
/// separable Gaussian (`1x11` then `11x1`, valid padding); between scales both
/// images go through `avg_pool2d(2x2, stride 2, padding [H % 2, W % 2],
/// count_include_pad)`. `cs` (scales 0..=3) and `ssim` (scale 4) are clamped
/// with `relu` before `powf_scalar`, so the gradient is undefined only if a
/// whole-image `cs`/`ssim` mean is exactly 0 (the same as `pytorch_msssim`).
///
/// # Errors
/// [`MetricError::SizeMismatch`] if the shapes differ,
/// [`MetricError::ChannelCount`] unless there are 3 channels,
/// [`MetricError::EmptyImage`] for an empty batch/image and
/// [`MetricError::ImageTooSmall`] if `min(H, W) < 161`.
pub fn ms_ssim_tensor<B: Backend>(
    reference: Tensor<B, 4>,
    distorted: Tensor<B, 4>,
) -> Result<Tensor<B, 1>, MetricError> {
    let [batch, _, height, width] = check_shapes(&reference, &distorted)?;
    check_min_side("MS-SSIM", width, height, MS_SSIM_MIN_SIDE)?;
    let (win_h, win_v) = gaussian_weights::<B>(&reference.device());

    let last = MS_SSIM_WEIGHTS.len() - 1;
    let (mut x, mut y) = (reference, distorted);
    let mut prod: Option<Tensor<B, 2>> = None;
    for (level, &weight) in MS_SSIM_WEIGHTS.iter().enumerate() {
        let (ssim, cs) = ssim_cs(x.clone(), y.clone(), &win_h, &win_v);
        let value = if level < last { cs } else { ssim };
        let term = relu(value).powf_scalar(weight);
        prod = Some(match prod {
            Some(p) => p * term,
            None => term,
        });
        if level < last {
            x = downsample(x);
            y = downsample(y);
        }
    }
    let prod = prod.expect("MS_SSIM_WEIGHTS is non-empty"); // [batch, 3]
    Ok(prod.mean_dim(1).reshape([batch]))
}

/// Per-image PSNR in dB, `10 * log10(255^2 / MSE)` with the MSE over all
/// `3 * H * W` samples of each image.
///
/// * `reference`, `distorted`: `[batch, 3, H, W]`, values in `0..=255`.
/// * returns: `[batch]`; `+inf` where the images are identical.
///
/// # Errors
/// As [`ms_ssim_tensor`], except that any non-empty size is accepted.
pub fn psnr_tensor<B: Backend>(
    reference: Tensor<B, 4>,
    distorted: Tensor<B, 4>,
) -> Result<Tensor<B, 1>, MetricError> {
    let [batch, channels, height, width] = check_shapes(&reference, &distorted)?;
    let mse = (reference - distorted)
        .square()
        .reshape([batch, channels * height * width])
        .mean_dim(1)
        .reshape([batch]);
    // 10*log10(R^2 / mse) = 20*log10(R) - (10 / ln 10) * ln(mse).
    let peak_db = 20.0 * DATA_RANGE.log10();
    Ok(mse
        .log()
        .mul_scalar(-10.0 / core::f64::consts::LN_10)
        .add_scalar(peak_db))
}

/// Validates a pair of `[B, 3, H, W]` inputs and returns their shape.
fn check_shapes<B: Backend>(
    reference: &Tensor<B, 4>,
    distorted: &Tensor<B, 4>,
) -> Result<[usize; 4], MetricError> {
    let (dr, dd) = (reference.dims(), distorted.dims());
    if dr != dd {
        return Err(MetricError::SizeMismatch {
            reference: dr.to_vec(),
            distorted: dd.to_vec(),
        });
    }
    let [batch, channels, height, width] = dr;
    if channels != CHANNELS {
        return Err(MetricError::ChannelCount(channels));
    }
    if batch == 0 || height == 0 || width == 0 {
        return Err(MetricError::EmptyImage {
            width,
            height,
            batch,
        });
    }
    Ok(dr)
}

/// Depthwise Gaussian weights for the stacked maps: horizontal
/// `[15, 1, 1, 11]` and vertical `[15, 1, 11, 1]`.
fn gaussian_weights<B: Backend>(device: &B::Device) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let groups = MAPS * CHANNELS;
    let g = ssim_window();
    let taps: Vec<f32> = (0..groups).flat_map(|_| g.map(|v| v as f32)).collect();
    let horizontal = Tensor::from_data(
        TensorData::new(taps.clone(), [groups, 1, 1, WINDOW_SIZE]),
        device,
    );
    let vertical = Tensor::from_data(TensorData::new(taps, [groups, 1, WINDOW_SIZE, 1]), device);
    (horizontal, vertical)
}

/// Channel means of the SSIM and CS maps at one scale, each `[batch, 3]`.
fn ssim_cs<B: Backend>(
    x: Tensor<B, 4>,
    y: Tensor<B, 4>,
    win_h: &Tensor<B, 4>,
    win_v: &Tensor<B, 4>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let c1 = (0.01 * DATA_RANGE).powi(2);
    let c2 = (0.03 * DATA_RANGE).powi(2);
    let [batch, ..] = x.dims();

    let xx = x.clone() * x.clone();
    let yy = y.clone() * y.clone();
    let xy = x.clone() * y.clone();
    let stacked = Tensor::cat(vec![x, y, xx, yy, xy], 1); // [B, 15, H, W]
    let options = ConvOptions::new([1, 1], [0, 0], [1, 1], MAPS * CHANNELS);
    let blurred = conv2d(stacked, win_v.clone(), None, options.clone());
    let blurred = conv2d(blurred, win_h.clone(), None, options);
    let map = |i: usize| blurred.clone().narrow(1, i * CHANNELS, CHANNELS);

    let (mu1, mu2) = (map(0), map(1));
    let mu1_sq = mu1.clone() * mu1.clone();
    let mu2_sq = mu2.clone() * mu2.clone();
    let mu12 = mu1 * mu2;
    let sigma1_sq = map(2) - mu1_sq.clone();
    let sigma2_sq = map(3) - mu2_sq.clone();
    let sigma12 = map(4) - mu12.clone();

    let cs_map = sigma12.mul_scalar(2.0).add_scalar(c2) / (sigma1_sq + sigma2_sq).add_scalar(c2);
    let lum = mu12.mul_scalar(2.0).add_scalar(c1) / (mu1_sq + mu2_sq).add_scalar(c1);
    let ssim_map = lum * cs_map.clone();
    let mean = |m: Tensor<B, 4>| m.mean_dims(&[2, 3]).reshape([batch, CHANNELS]);
    (mean(ssim_map), mean(cs_map))
}

/// 2x2 average pool, stride 2, zero padding `[H % 2, W % 2]`, divisor 4.
fn downsample<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    avg_pool2d(x, [2, 2], [2, 2], [h % 2, w % 2], true, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};

    type B = Flex;

    fn ramp<Bk: Backend>(h: usize, w: usize, seed: f32, device: &Bk::Device) -> Tensor<Bk, 4> {
        let data: Vec<f32> = (0..3 * h * w)
            .map(|i| {
                let (c, p) = (i / (h * w), i % (h * w));
                let (r, col) = ((p / w) as f32, (p % w) as f32);
                let v = 127.5
                    + 60.0 * (0.07 * r + seed).sin() * (0.05 * col + c as f32).cos()
                    + 40.0 * (1.3 * r * seed + 0.9 * col).sin();
                v.clamp(0.0, 255.0)
            })
            .collect();
        Tensor::from_data(TensorData::new(data, [1, 3, h, w]), device)
    }

    #[test]
    fn identical_images_score_one_and_psnr_inf() {
        let device = Default::default();
        let x = ramp::<B>(165, 170, 0.3, &device);
        let ms = ms_ssim_tensor(x.clone(), x.clone()).unwrap().into_data();
        let ms = ms.to_vec::<f32>().unwrap();
        assert_eq!(ms.len(), 1);
        assert!((ms[0] - 1.0).abs() < 1e-5, "{ms:?}");
        let p = psnr_tensor(x.clone(), x)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        assert_eq!(p, vec![f32::INFINITY]);
    }

    #[test]
    fn typed_errors() {
        let device = Default::default();
        let a = Tensor::<B, 4>::zeros([1, 3, 170, 170], &device);
        let b = Tensor::<B, 4>::zeros([1, 3, 170, 171], &device);
        assert!(matches!(
            ms_ssim_tensor(a.clone(), b.clone()),
            Err(MetricError::SizeMismatch { .. })
        ));
        assert!(matches!(
            psnr_tensor(a, b),
            Err(MetricError::SizeMismatch { .. })
        ));
        let small = Tensor::<B, 4>::zeros([2, 3, 160, 300], &device);
        assert_eq!(
            ms_ssim_tensor(small.clone(), small).unwrap_err(),
            MetricError::ImageTooSmall {
                metric: "MS-SSIM",
                width: 300,
                height: 160,
                min_side: 161
            }
        );
        let gray = Tensor::<B, 4>::zeros([1, 1, 200, 200], &device);
        assert_eq!(
            ms_ssim_tensor(gray.clone(), gray).unwrap_err(),
            MetricError::ChannelCount(1)
        );
        let empty = Tensor::<B, 4>::zeros([0, 3, 200, 200], &device);
        assert!(matches!(
            psnr_tensor(empty.clone(), empty),
            Err(MetricError::EmptyImage { .. })
        ));
    }

    #[test]
    fn gradients_flow_to_distorted_input() {
        type AB = Autodiff<B>;
        let device = Default::default();
        let reference = ramp::<AB>(161, 175, 0.3, &device);
        let distorted = ramp::<AB>(161, 175, 0.5, &device).require_grad();
        let ms = ms_ssim_tensor(reference, distorted.clone()).unwrap();
        let value = ms.clone().into_scalar();
        assert!(value > 0.0 && value < 1.0, "{value}");
        let loss = ms.neg().add_scalar(1.0).sum();
        let grads = loss.backward();
        let grad = distorted
            .grad(&grads)
            .expect("gradient for distorted input");
        let g = grad.into_data().to_vec::<f32>().unwrap();
        assert_eq!(g.len(), 3 * 161 * 175);
        assert!(g.iter().all(|v| v.is_finite()), "non-finite gradient");
        assert!(g.iter().any(|&v| v != 0.0), "all-zero gradient");
    }
}
