//! Channel importance: which latent channels deserve the finer quantizers.
//!
//! - Predefined: `w_c = c` (identity order).
//! - SE: a squeeze-excitation head on the latent gives per-image scores; the order is
//!   their argsort. As in the seed, sorting passes no gradient, so the SE head is **not
//!   trained** by the rate–distortion loss (its random initial weights define a
//!   latent-dependent order); this implementation keeps that behaviour.
//! - RE: [`re_importance`] measures how much the reconstruction suffers when a channel
//!   is zeroed; the trainer calls it periodically and stores the order in the model.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Tensor, activation, backend::Backend};
use thiserror::Error;

use super::Cvqn;
use super::split_merge::order_from_importance;
use crate::metrics::MetricError;

/// Squeeze-excitation importance head over `C` latent channels.
#[derive(Module, Debug)]
pub struct SeImportance<B: Backend> {
    fc1: Linear<B>,
    fc2: Linear<B>,
}

impl<B: Backend> SeImportance<B> {
    /// New head with reduction `r`.
    pub fn new(channels: usize, reduction: usize, device: &B::Device) -> Self {
        let m = channels / reduction;
        Self {
            fc1: LinearConfig::new(channels, m).init(device),
            fc2: LinearConfig::new(m, channels).init(device),
        }
    }

    /// Scores in `(0, 1)` averaged over the batch: latent `[B, C, h, w]` → `[C]`.
    pub fn scores(&self, z: Tensor<B, 4>) -> Tensor<B, 1> {
        let [b, c, _, _] = z.dims();
        let pooled = z.mean_dim(3).mean_dim(2).reshape([b, c]);
        let y = activation::sigmoid(self.fc2.forward(activation::relu(self.fc1.forward(pooled))));
        y.mean_dim(0).reshape([c])
    }

    /// Channel order (least → most important) for a latent.
    pub fn order(&self, z: Tensor<B, 4>) -> Vec<usize> {
        let scores: Vec<f32> = self
            .scores(z)
            .into_data()
            .convert::<f32>()
            .into_vec()
            .expect("f32 data");
        order_from_importance(&scores)
    }
}

/// Parameters of an SE head.
pub fn se_params(channels: usize, reduction: usize) -> usize {
    let m = channels / reduction;
    channels * m + m + m * channels + channels
}

/// Why RE importance could not be measured.
#[derive(Debug, Error)]
pub enum ImportanceError {
    /// No images were given.
    #[error("RE importance needs at least one image")]
    NoImages,
    /// MS-SSIM cannot be computed on these images (too small).
    #[error("RE importance: {0}")]
    Metric(#[from] MetricError),
}

/// Reconstruction-error importance: for each channel `c`, `w_c` is the mean over
/// `images` of `200 · (1 − MS-SSIM(decode(q), decode(q with channel c zeroed)))` on the
/// 0..255 scale. Each image is `[1, 3, H, W]` with `H, W ≥ 176` and multiples of 16.
///
/// Costs one decoder pass per channel per image (the `C` passes are batched).
/// Returns the scores; [`order_from_importance`] turns them into the order.
pub fn re_importance<B: Backend>(
    model: &Cvqn<B>,
    images: &[Tensor<B, 4>],
) -> Result<Vec<f32>, ImportanceError> {
    if images.is_empty() {
        return Err(ImportanceError::NoImages);
    }
    let c = model.code_channels();
    let mut total = vec![0.0f32; c];
    for image in images {
        let device = image.device();
        let code = model.quantize(image.clone()).code;
        let [_, _, h, w] = code.dims();
        let full = to_255(model.decoder.forward(code.clone()));
        // Batch of C codes, code k with channel k zeroed.
        let keep = Tensor::<B, 2>::ones([c, c], &device) - Tensor::<B, 2>::eye(c, &device);
        let ablated = code.expand([c, c, h, w]) * keep.reshape([c, c, 1, 1]);
        let decoded = to_255(model.decoder.forward(ablated));
        let [_, ch, ih, iw] = decoded.dims();
        let reference = full.expand([c, ch, ih, iw]);
        let ms_ssim = crate::metrics::ms_ssim_tensor(reference, decoded)?;
        let scores: Vec<f32> = ms_ssim
            .neg()
            .add_scalar(1.0)
            .mul_scalar(200.0)
            .into_data()
            .convert::<f32>()
            .into_vec()
            .expect("f32 data");
        for (t, s) in total.iter_mut().zip(scores) {
            *t += s / images.len() as f32;
        }
    }
    Ok(total)
}

/// `[0, 1]` image → clamped `[0, 255]` scale.
fn to_255<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    x.mul_scalar(255.0).clamp(0.0, 255.0)
}
