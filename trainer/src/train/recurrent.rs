//! `cvq-train train` for the recurrent family (SPEC §2): the same run folder, data
//! loader, checkpoints, `metrics.csv` and plots as CVQN, with the seed's loss.
//!
//! One step: batch `[B, 3, crop, crop]` → [`RecurrentCodec::forward`] with
//! `model.iterations` iterations and the stochastic binarizer (or, with
//! `stochastic_binarizer: false`, the inference's sign) → [`residual_loss`] (mean
//! absolute residual averaged over the iterations; with `iteration_weighting:
//! relative` each iteration's gradient scaled by `L̄ / L_t`, the same value) →
//! backward → Adam at `lr` × the multi-step factor, gradients clipped by value. In
//! `metrics.csv` the columns mean: `loss` = `distortion` = the L1 averaged over the
//! iterations (either weighting), `rate` 0 (no rate term: the rate is fixed by the
//! iteration count), `bpp` the raw code bits of all iterations (`iterations × bits /
//! 256`), `psnr` after the last iteration. With `ms_ssim_weight` α > 0 the loss adds
//! `α · (1 − mean_t MS-SSIM_t)` ([`iteration_ms_ssim`]): `loss` is the sum,
//! `distortion` the L1 part, `ms_ssim` the batch's MS-SSIM after the last iteration.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::ElementConversion;
use burn::tensor::backend::{AutodiffBackend, Backend};
use cvq_core::recurrent::config::RecurrentConfig;
use cvq_core::recurrent::{IterationWeighting, RecurrentCodec, iteration_ms_ssim, residual_loss};
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, CheckpointState};
use super::config::{
    TrainConfigError, check_batch, check_cadence, check_ms_ssim_crop, multistep_factor,
};
use super::{
    CONFIG_FILE, MetricsRow, RunConfig, TrainError, TrainOptions, TrainSummary, append_metrics,
    batch_tensor, read_config, start_session, truncate_metrics,
};
use crate::data::{Dataset, Loader};

/// Everything that defines a recurrent training run (`train.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecurrentTrainConfig {
    /// The model (its `iterations` are trained every step).
    pub model: RecurrentConfig,
    /// Total optimisation steps.
    pub steps: u64,
    /// Crops per batch.
    pub batch_size: usize,
    /// Side of the square random crops (multiple of 16; the seed trained on 32).
    pub crop: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Steps at which the learning rate is multiplied by `lr_gamma`.
    pub lr_milestones: Vec<u64>,
    /// Multi-step decay factor.
    pub lr_gamma: f64,
    /// Gradients are clipped to `±grad_clip` element-wise (0 disables clipping).
    pub grad_clip: f64,
    /// Seed of initialisation, data order and the stochastic binarizer.
    pub seed: u64,
    /// Write a checkpoint at least this often (seconds).
    pub checkpoint_secs: u64,
    /// Append a row to `metrics.csv` every this many steps.
    pub log_every: u64,
    /// Data-loading worker threads.
    pub workers: usize,
    /// Train with the stochastic binarizer (the seed's: ±1 drawn with probability
    /// (1 ± b)/2); `false`: the deterministic sign used at inference, with the same
    /// straight-through gradient. Runs written before this field default to `true`.
    #[serde(default = "stochastic_by_default")]
    pub stochastic_binarizer: bool,
    /// How the loss weights the iterations (runs written before this field: `equal`).
    #[serde(default)]
    pub iteration_weighting: IterationWeighting,
    /// Weight α of an MS-SSIM term added to the L1: `α · (1 − mean_t MS-SSIM_t)` over
    /// the iterations' reconstructions (0: the seed's loss alone; crops ≥ 176 when
    /// positive). Runs written before this field: 0.
    #[serde(default)]
    pub ms_ssim_weight: f64,
}

fn stochastic_by_default() -> bool {
    true
}

impl RecurrentTrainConfig {
    /// Defaults for a model: batch 32 of 32×32 crops (the seed's patches), Adam at 5e-4
    /// (the seed's rate), gradients clipped at 0.5, 10 000 steps.
    pub fn new(model: RecurrentConfig) -> Self {
        Self {
            model,
            steps: 10_000,
            batch_size: 32,
            crop: 32,
            lr: 5e-4,
            lr_milestones: Vec::new(),
            lr_gamma: 0.5,
            grad_clip: 0.5,
            seed: 0,
            checkpoint_secs: 120,
            log_every: 10,
            workers: 2,
            stochastic_binarizer: true,
            iteration_weighting: IterationWeighting::Equal,
            ms_ssim_weight: 0.0,
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    ///
    /// The first problem found.
    pub fn validate(&self) -> Result<(), TrainConfigError> {
        self.model
            .validate()
            .map_err(|e| TrainConfigError(e.to_string()))?;
        check_batch(self.batch_size, self.crop)?;
        for (name, v) in [("lr", self.lr), ("lr_gamma", self.lr_gamma)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(TrainConfigError(format!(
                    "{name} must be positive and finite (got {v})"
                )));
            }
        }
        if !(self.ms_ssim_weight.is_finite() && self.ms_ssim_weight >= 0.0) {
            return Err(TrainConfigError(format!(
                "ms_ssim_weight must be ≥ 0 (got {})",
                self.ms_ssim_weight
            )));
        }
        if self.ms_ssim_weight > 0.0 {
            check_ms_ssim_crop(self.crop)?;
        }
        if !(self.grad_clip.is_finite() && self.grad_clip >= 0.0) {
            return Err(TrainConfigError(format!(
                "grad_clip must be ≥ 0 (got {})",
                self.grad_clip
            )));
        }
        check_cadence(self.log_every, self.workers, self.checkpoint_secs)
    }
}

impl RunConfig for RecurrentTrainConfig {
    fn check(&self) -> Result<(), TrainConfigError> {
        self.validate()
    }

    fn override_session(&mut self, steps: Option<u64>, workers: Option<usize>) {
        self.steps = steps.unwrap_or(self.steps);
        self.workers = workers.unwrap_or(self.workers);
    }
}

/// Whether the run folder `run` holds a recurrent run (its `train.json` has a
/// recurrent model: a `cell` field).
pub fn is_recurrent_run(run: &Path) -> bool {
    std::fs::read_to_string(run.join(CONFIG_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["model"].get("cell").is_some())
}

/// Reads `train.json` of a recurrent run.
///
/// # Errors
///
/// Missing or invalid file.
pub fn read_recurrent_config(run: &Path) -> Result<RecurrentTrainConfig, TrainError> {
    read_config(run)
}

/// What one recurrent step measured on its batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecurrentStepStats {
    /// The loss: the weighted L1 over the iterations, plus the MS-SSIM term if any.
    pub loss: f64,
    /// The weighted L1 alone.
    pub l1: f64,
    /// Mean squared error after the last iteration (`0..1` images).
    pub mse_last: f64,
    /// MS-SSIM after the last iteration (batch mean), when the loss has an MS-SSIM term.
    pub ms_ssim_last: Option<f64>,
}

/// One optimisation step on `batch` (`[B, 3, crop, crop]`); returns the updated model.
///
/// # Errors
///
/// [`TrainError::Diverged`] for a non-finite loss.
pub fn recurrent_step<B, O>(
    model: RecurrentCodec<B>,
    optimizer: &mut O,
    cfg: &RecurrentTrainConfig,
    batch: burn::tensor::Tensor<B, 4>,
    step: u64,
) -> Result<(RecurrentCodec<B>, RecurrentStepStats), TrainError>
where
    B: AutodiffBackend,
    O: Optimizer<RecurrentCodec<B>, B>,
{
    let out = model.forward(
        batch.clone(),
        cfg.model.iterations,
        cfg.stochastic_binarizer,
    );
    let l1 = residual_loss(&out, cfg.iteration_weighting);
    let ms_ssim = (cfg.ms_ssim_weight > 0.0)
        .then(|| iteration_ms_ssim(batch.clone(), &out))
        .transpose()
        .map_err(|e| TrainError::Loss(e.to_string()))?;
    let loss = match &ms_ssim {
        Some(m) => {
            l1.clone()
                + m.clone()
                    .mean()
                    .neg()
                    .add_scalar(1.0)
                    .mul_scalar(cfg.ms_ssim_weight)
        }
        None => l1.clone(),
    };
    let last = out
        .residuals
        .last()
        .expect("at least one iteration")
        .clone();
    let mse = last.powi_scalar(2).mean().detach();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let lr = cfg.lr * multistep_factor(&cfg.lr_milestones, cfg.lr_gamma, step);
    let model = optimizer.step(lr, model, grads);
    let t = cfg.model.iterations;
    let mut read = vec![loss.detach(), l1.detach(), mse];
    read.extend(ms_ssim.map(|m| m.detach().narrow(0, t - 1, 1)));
    let values: Vec<f32> = burn::tensor::Tensor::cat(read, 0)
        .into_data()
        .convert::<f32>()
        .into_vec()
        .map_err(|e| TrainError::Loss(format!("{e:?}")))?;
    let stats = RecurrentStepStats {
        loss: values[0].elem::<f64>(),
        l1: values[1].elem::<f64>(),
        mse_last: values[2].elem::<f64>(),
        ms_ssim_last: values.get(3).map(|v| v.elem::<f64>()),
    };
    if !stats.loss.is_finite() {
        return Err(TrainError::Diverged(step + 1));
    }
    Ok((model, stats))
}

/// Trains (or resumes) the recurrent run in `opts.run`; as [`super::train`].
///
/// # Errors
///
/// Configuration, data, checkpoint or numerical errors.
pub fn train_recurrent<B: AutodiffBackend>(
    config: Option<RecurrentTrainConfig>,
    steps_override: Option<u64>,
    opts: &TrainOptions,
    stop: &AtomicBool,
    device: &B::Device,
) -> Result<TrainSummary, TrainError> {
    let run = &opts.run;
    let cfg = start_session(config, steps_override, opts)?;
    let data = Arc::new(Dataset::open(&opts.data, cfg.crop)?);
    B::seed(device, cfg.seed);
    let fresh = RecurrentCodec::<B>::new(&cfg.model, device)
        .map_err(|e| TrainError::Config(TrainConfigError(e.to_string())))?;
    let clip = (cfg.grad_clip > 0.0).then_some(GradientClippingConfig::Value(cfg.grad_clip as f32));
    let new_optimizer = || {
        AdamConfig::new()
            .with_grad_clipping(clip.clone())
            .init::<B, RecurrentCodec<B>>()
    };
    let mut optimizer = new_optimizer();
    let (mut model, start, mut seconds) = if opts.resume {
        let state = checkpoint::load_state(run)?;
        let model = checkpoint::load_weights(run, fresh, device)?;
        if let Some(o) = checkpoint::load_optimizer(run, optimizer, device)? {
            optimizer = o;
        } else {
            optimizer = new_optimizer();
        }
        truncate_metrics(run, state.step)?;
        (model, state.step, state.seconds)
    } else if let Some(from) = &opts.init_from {
        truncate_metrics(run, 0)?;
        let model = if from.is_file() {
            checkpoint::recurrent_from_model_file(from, &cfg.model, device)?
        } else {
            checkpoint::load_weights(from, fresh, device)?
        };
        (model, 0, 0.0)
    } else {
        truncate_metrics(run, 0)?;
        (fresh, 0, 0.0)
    };
    let state = |step, seconds| CheckpointState {
        step,
        order: Vec::new(),
        seconds,
    };
    let mut pending: Vec<MetricsRow> = Vec::new();
    if !opts.resume {
        checkpoint::save(run, &model, &optimizer, &state(0, 0.0))?;
    }
    if start >= cfg.steps {
        return Ok(TrainSummary {
            first_step: start,
            last_step: start,
            finished: true,
            steps_per_sec: 0.0,
        });
    }
    let bar = super::progress_bar(opts.progress, cfg.steps, start);
    let mut loader = Loader::start(
        data,
        cfg.seed,
        start,
        cfg.batch_size,
        cfg.crop,
        cfg.workers,
        2,
    );
    let raw_bpp = cfg.model.iterations as f64 * cfg.model.bpp_per_iteration();
    let session = Instant::now();
    let mut last_checkpoint = Instant::now();
    let mut step = start;
    let mut ema: Option<(f64, f64)> = None;
    while step < cfg.steps {
        let t0 = Instant::now();
        let batch = batch_tensor::<B>(loader.next_batch()?, cfg.batch_size, cfg.crop, device);
        let (updated, stats) = recurrent_step(model, &mut optimizer, &cfg, batch, step)?;
        model = updated;
        seconds += t0.elapsed().as_secs_f64();
        let psnr = -10.0 * stats.mse_last.max(1e-12).log10();
        let e = ema.map_or((stats.loss, psnr), |(l, p)| {
            (0.9 * l + 0.1 * stats.loss, 0.9 * p + 0.1 * psnr)
        });
        ema = Some(e);
        step += 1;
        if step % cfg.log_every == 0 || step == cfg.steps {
            pending.push(MetricsRow {
                step,
                seconds,
                lr: cfg.lr * multistep_factor(&cfg.lr_milestones, cfg.lr_gamma, step - 1),
                loss: stats.loss,
                distortion: stats.l1,
                rate: 0.0,
                bpp: raw_bpp,
                psnr,
                ms_ssim: stats.ms_ssim_last,
                rate_point: None,
            });
        }
        bar.set_position(step);
        bar.set_message(format!("loss {:.4} psnr {:.2} dB", e.0, e.1));
        let stopping =
            stop.load(Ordering::SeqCst) || opts.stop_after.is_some_and(|d| session.elapsed() >= d);
        if stopping
            || step == cfg.steps
            || last_checkpoint.elapsed() >= Duration::from_secs(cfg.checkpoint_secs)
        {
            append_metrics(run, &pending)?;
            pending.clear();
            checkpoint::save(run, &model, &optimizer, &state(step, seconds))?;
            last_checkpoint = Instant::now();
            if opts.progress && !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprintln!(
                    "step {step}/{} {seconds:.0} s: loss {:.4} psnr {:.2} dB",
                    cfg.steps, e.0, e.1
                );
            }
        }
        if stopping {
            break;
        }
    }
    bar.finish();
    Ok(TrainSummary {
        first_step: start,
        last_step: step,
        finished: step >= cfg.steps,
        steps_per_sec: (step - start) as f64 / session.elapsed().as_secs_f64().max(1e-9),
    })
}

/// Loads the trained networks of a recurrent run (its last checkpoint) on a backend
/// without autodiff.
///
/// # Errors
///
/// Missing run files or a checkpoint that does not fit the configuration.
pub fn load_trained_recurrent<B: Backend>(
    run: &Path,
    device: &B::Device,
) -> Result<(RecurrentCodec<B>, RecurrentTrainConfig, CheckpointState), TrainError> {
    let cfg = read_recurrent_config(run)?;
    let model = RecurrentCodec::<B>::new(&cfg.model, device)
        .map_err(|e| TrainError::Config(TrainConfigError(e.to_string())))?;
    let model = checkpoint::load_weights(run, model, device)?;
    Ok((model, cfg, checkpoint::load_state(run)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs written before `stochastic_binarizer` and `iteration_weighting` existed
    /// (`cvq-rnn`'s session-2 recipe, 2026-11-29) read back with the stochastic binarizer
    /// and the equal weighting they trained with.
    #[test]
    fn older_run_configs_default_to_the_stochastic_binarizer() {
        let text = r#"{"model": {"name": "cvq-rnn", "cell": "Lstm", "encoder_head": 32,
            "encoder_states": [64, 128, 128], "bits": 32, "decoder_head": 128,
            "decoder_states": [128, 128, 64, 32], "mode": "Additive", "iterations": 8},
            "steps": 100000, "batch_size": 16, "crop": 32, "lr": 0.0005,
            "lr_milestones": [], "lr_gamma": 0.2, "grad_clip": 0.5, "seed": 2,
            "checkpoint_secs": 300, "log_every": 10, "workers": 1}"#;
        let cfg: RecurrentTrainConfig = serde_json::from_str(text).unwrap();
        assert!(cfg.stochastic_binarizer);
        assert_eq!(cfg.iteration_weighting, IterationWeighting::Equal);
        assert_eq!(cfg.ms_ssim_weight, 0.0);
        cfg.validate().unwrap();
    }

    /// The MS-SSIM weight must be finite and ≥ 0, and a positive one needs crops of at
    /// least MS-SSIM's minimum side.
    #[test]
    fn the_ms_ssim_weight_is_validated() {
        let mut cfg = RecurrentTrainConfig::new(RecurrentConfig::preset(
            cvq_core::recurrent::config::RecurrentPreset::Tiny,
        ));
        cfg.crop = 176;
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            cfg.ms_ssim_weight = bad;
            assert!(cfg.validate().is_err(), "{bad}");
        }
        cfg.ms_ssim_weight = 1.0;
        cfg.validate().unwrap();
        cfg.crop = 160;
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("176"), "{err}");
        cfg.ms_ssim_weight = 0.0;
        cfg.validate().unwrap();
    }
}
