//! One optimisation step, shared by the training loop and `cvq-train bench`.
//!
//! A step: batch `[B, 3, crop, crop]` → [`Cvqn::forward`] → [`RateDistortionLoss`] →
//! backward → Adam with three learning rates (network at `lr`, quantizer means at
//! `lr_quantizer`, quantizer π/σ at `0.2 × lr_quantizer`, all times the multi-step
//! factor), gradients clipped by value. The logged scalars are stacked into one tensor and
//! read back once, after the update has been queued, so the device is synchronised once
//! per step.

use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::ParamId;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor, TensorData};
use cvq_core::loss::RateDistortionLoss;
use cvq_core::metrics::{MS_SSIM_MIN_SIDE, ms_ssim_tensor};
use cvq_core::model::Cvqn;

use super::{TrainConfig, TrainError};

/// The optimizer of a run (Adam, Burn's defaults: β = 0.9/0.999, ε = 1e-5).
pub type RunOptimizer<B> = OptimizerAdaptor<Adam, Cvqn<B>, B>;

/// Adam with the run's clipping.
pub fn new_optimizer<B: AutodiffBackend>(cfg: &TrainConfig) -> RunOptimizer<B> {
    let clip = (cfg.grad_clip > 0.0).then_some(GradientClippingConfig::Value(cfg.grad_clip as f32));
    AdamConfig::new()
        .with_grad_clipping(clip)
        .init::<B, Cvqn<B>>()
}

/// What one step measured on its batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Total loss.
    pub loss: f64,
    /// Weighted distortion term.
    pub distortion: f64,
    /// Rate term (nats per symbol, mean over groups).
    pub rate: f64,
    /// Estimated bits per pixel.
    pub bpp: f64,
    /// Mean squared error of the unrounded reconstruction (`0..1` images).
    pub mse: f64,
    /// MS-SSIM of the batch, when it was asked for and the crop allows it.
    pub ms_ssim: Option<f64>,
    /// The rate point trained (0 for a fixed-rate model).
    pub rate_point: usize,
}

/// Wall time of a step's phases (seconds). Only measured when asked for: the device is
/// then synchronised after each phase, which removes the overlap a GPU would otherwise
/// have between them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PhaseTimes {
    /// Host → device copy of the batch.
    pub upload: f64,
    /// Forward pass and loss.
    pub forward: f64,
    /// Backward pass.
    pub backward: f64,
    /// The three optimizer updates.
    pub optimizer: f64,
    /// Read-back of the logged scalars.
    pub readback: f64,
}

impl PhaseTimes {
    /// Sum of the phases.
    pub fn total(&self) -> f64 {
        self.upload + self.forward + self.backward + self.optimizer + self.readback
    }

    /// Adds another step's times.
    pub fn add(&mut self, o: &PhaseTimes) {
        self.upload += o.upload;
        self.forward += o.forward;
        self.backward += o.backward;
        self.optimizer += o.optimizer;
        self.readback += o.readback;
    }

    /// Divides every phase by `n`.
    pub fn scaled(&self, n: f64) -> PhaseTimes {
        PhaseTimes {
            upload: self.upload / n,
            forward: self.forward / n,
            backward: self.backward / n,
            optimizer: self.optimizer / n,
            readback: self.readback / n,
        }
    }
}

/// Parameter ids with their own learning rates: quantizer means, and quantizer π/σ.
#[derive(Debug, Clone)]
pub struct ParamGroups {
    means: Vec<ParamId>,
    pi_sigma: Vec<ParamId>,
}

impl ParamGroups {
    /// The groups of `model`.
    pub fn of<B: burn::tensor::backend::Backend>(model: &Cvqn<B>) -> Self {
        Self {
            means: model.quantizers.iter().map(|q| q.mean.id).collect(),
            pi_sigma: model
                .quantizers
                .iter()
                .flat_map(|q| [q.log_std.id, q.log_pi.id])
                .collect(),
        }
    }
}

/// Times phases when `timer` is given (synchronising the device), else does nothing.
struct Clock<'a, B: AutodiffBackend> {
    timer: Option<&'a mut PhaseTimes>,
    device: B::Device,
    mark: Instant,
}

impl<B: AutodiffBackend> Clock<'_, B> {
    fn lap(&mut self, phase: fn(&mut PhaseTimes) -> &mut f64) -> Result<(), TrainError> {
        if let Some(t) = self.timer.as_deref_mut() {
            B::sync(&self.device).map_err(|e| TrainError::Loss(format!("device sync: {e:?}")))?;
            *phase(t) += self.mark.elapsed().as_secs_f64();
            self.mark = Instant::now();
        }
        Ok(())
    }
}

/// The batch `values` (`[B, 3, crop, crop]`, row-major, `0..1`) as a device tensor.
pub fn batch_tensor<B: burn::tensor::backend::Backend>(
    values: Vec<f32>,
    batch: usize,
    crop: usize,
    device: &B::Device,
) -> Tensor<B, 4> {
    Tensor::from_data(TensorData::new(values, [batch, 3, crop, crop]), device)
}

/// One optimisation step at `step` (0-based) on the host batch `values`; returns the
/// updated model and the batch's statistics (MS-SSIM when `log_ms_ssim` and the crop
/// allows it). With `timer`, adds this step's phase times to it.
///
/// # Errors
///
/// The loss cannot be evaluated, the device fails, or the loss is not finite
/// ([`TrainError::Diverged`]: the update has been applied; do not checkpoint it).
#[allow(clippy::too_many_arguments)]
pub fn train_step<B: AutodiffBackend>(
    model: Cvqn<B>,
    optimizer: &mut RunOptimizer<B>,
    groups: &ParamGroups,
    cfg: &TrainConfig,
    values: Vec<f32>,
    step: u64,
    log_ms_ssim: bool,
    timer: Option<&mut PhaseTimes>,
    device: &B::Device,
) -> Result<(Cvqn<B>, StepStats), TrainError> {
    let mut clock = Clock::<B> {
        timer,
        device: device.clone(),
        mark: Instant::now(),
    };
    let x = batch_tensor::<B>(values, cfg.batch_size, cfg.crop, device);
    clock.lap(|t| &mut t.upload)?;
    let rate_point = cfg.rate_point(step);
    let out = model.forward_at(x.clone(), rate_point);
    let terms = RateDistortionLoss::evaluate(&cfg.loss_at(step), &model, x.clone(), &out)
        .map_err(|e| TrainError::Loss(e.to_string()))?;
    // [total, distortion, rate, bpp, mse], read back once after the update.
    let stats = Tensor::cat(
        vec![
            terms.total.clone().detach().inner(),
            terms.distortion.clone().detach().inner(),
            terms.rate.clone().detach().inner(),
            out.bpp().detach().inner(),
            (out.reconstruction.clone().detach().inner() - x.clone().inner())
                .powi_scalar(2)
                .mean(),
        ],
        0,
    );
    let ms_ssim = (log_ms_ssim && cfg.crop >= MS_SSIM_MIN_SIDE)
        .then(|| {
            let x255 = x.inner().mul_scalar(255.0);
            let y255 = out
                .reconstruction
                .clone()
                .inner()
                .mul_scalar(255.0)
                .clamp(0.0, 255.0);
            ms_ssim_tensor(x255, y255).map(|t| t.mean().into_scalar().elem::<f64>())
        })
        .transpose()
        .map_err(|e| TrainError::Loss(e.to_string()))?;
    clock.lap(|t| &mut t.forward)?;

    let mut grads = terms.total.backward();
    clock.lap(|t| &mut t.backward)?;
    let g_means = GradientsParams::from_params(&mut grads, &model, &groups.means);
    let g_pi_sigma = GradientsParams::from_params(&mut grads, &model, &groups.pi_sigma);
    let g_net = GradientsParams::from_grads(grads, &model);
    let factor = cfg.lr_factor(step);
    let model = optimizer.step(cfg.lr * factor, model, g_net);
    let model = optimizer.step(cfg.lr_quantizer * factor, model, g_means);
    let model = optimizer.step(0.2 * cfg.lr_quantizer * factor, model, g_pi_sigma);
    clock.lap(|t| &mut t.optimizer)?;
    let stats = stats
        .into_data()
        .convert::<f64>()
        .into_vec::<f64>()
        .map_err(|e| TrainError::Loss(format!("{e:?}")))?;
    clock.lap(|t| &mut t.readback)?;
    let [loss, distortion, rate, bpp, mse] = stats[..] else {
        return Err(TrainError::Loss(format!(
            "expected 5 logged scalars, the device returned {}",
            stats.len()
        )));
    };
    if !loss.is_finite() {
        return Err(TrainError::Diverged(step));
    }
    Ok((
        model,
        StepStats {
            loss,
            distortion,
            rate,
            bpp,
            mse,
            ms_ssim,
            rate_point,
        },
    ))
}
