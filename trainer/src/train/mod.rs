//! `cvq-train train`: the training loop (any Burn autodiff backend; the binary picks
//! Flex on CPU, CUDA or WGPU by feature).
//!
//! One step: batch `[B, 3, crop, crop]` → [`Cvqn::forward`] → [`RateDistortionLoss`] →
//! backward → Adam with three learning rates (network at `lr`, quantizer means at
//! `lr_quantizer`, quantizer π/σ at `0.2 × lr_quantizer`, all times the multi-step
//! factor), gradients clipped by value. With RE importance the channel order is
//! re-measured every `re_every` steps.

pub mod checkpoint;
pub mod config;
pub mod init;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::grad_clipping::GradientClippingConfig;
use burn::module::{AutodiffModule, ParamId};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor, TensorData};
use cvq_core::config::ImportanceKind;
use cvq_core::loss::RateDistortionLoss;
use cvq_core::metrics::{MS_SSIM_MIN_SIDE, ms_ssim_tensor};
use cvq_core::model::Cvqn;
use cvq_core::model::importance::re_importance;
use cvq_core::model::split_merge::order_from_importance;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{DataError, Dataset, Loader};
pub use checkpoint::CheckpointState;
pub use config::{TrainConfig, TrainConfigError};

/// Errors of training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Invalid configuration.
    #[error(transparent)]
    Config(#[from] TrainConfigError),
    /// Data could not be loaded.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A checkpoint is missing or unreadable.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The run folder is not in the expected state.
    #[error("{0}")]
    Run(String),
    /// The loss could not be evaluated (e.g. images too small for MS-SSIM).
    #[error("loss: {0}")]
    Loss(String),
    /// The loss became NaN or infinite.
    #[error(
        "loss is not finite at step {0}; lower the learning rate or resume from the last checkpoint"
    )]
    Diverged(u64),
}

/// How to run a training session.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Run folder (`runs/NAME`).
    pub run: PathBuf,
    /// Training images: a folder or a pack file.
    pub data: PathBuf,
    /// Continue the run in `run` from its last checkpoint.
    pub resume: bool,
    /// Start from another run's weights (fine-tuning; fresh optimizer, step 0).
    pub init_from: Option<PathBuf>,
    /// Checkpoint and stop (successfully) after this much wall time.
    pub stop_after: Option<Duration>,
    /// Show a progress bar.
    pub progress: bool,
}

/// What a session did.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSummary {
    /// Step the session started at.
    pub first_step: u64,
    /// Steps completed at the end of the session.
    pub last_step: u64,
    /// Whether the run reached `steps`.
    pub finished: bool,
    /// Optimisation steps per second of this session (data loading included).
    pub steps_per_sec: f64,
}

/// One row of `metrics.csv` (values of the step's batch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// Steps completed.
    pub step: u64,
    /// Wall-clock seconds trained (all sessions).
    pub seconds: f64,
    /// Network learning rate.
    pub lr: f64,
    /// Total loss.
    pub loss: f64,
    /// Weighted distortion term.
    pub distortion: f64,
    /// Rate term (nats per symbol, mean over groups).
    pub rate: f64,
    /// Estimated bits per pixel.
    pub bpp: f64,
    /// PSNR (dB) of the unrounded reconstruction.
    pub psnr: f64,
    /// MS-SSIM of the batch (empty for crops smaller than 161).
    pub ms_ssim: Option<f64>,
}

const CONFIG_FILE: &str = "train.json";
const METRICS_FILE: &str = "metrics.csv";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Reads `train.json` of a run.
///
/// # Errors
///
/// Missing or invalid file.
pub fn read_run_config(run: &Path) -> Result<TrainConfig, TrainError> {
    let path = run.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let cfg: TrainConfig = serde_json::from_str(&text)
        .map_err(|e| TrainError::Run(format!("{}: {e}", path.display())))?;
    cfg.validate()?;
    Ok(cfg)
}

/// Reads `metrics.csv` of a run.
///
/// # Errors
///
/// Missing or malformed file.
pub fn read_metrics(run: &Path) -> Result<Vec<MetricsRow>, TrainError> {
    let path = run.join(METRICS_FILE);
    let mut reader = csv::Reader::from_path(&path)
        .map_err(|e| TrainError::Run(format!("{}: {e}", path.display())))?;
    reader
        .deserialize()
        .collect::<Result<Vec<MetricsRow>, _>>()
        .map_err(|e| TrainError::Run(format!("{}: {e}", path.display())))
}

/// Rewrites `metrics.csv` keeping only rows up to `step` (rows logged after the last
/// checkpoint of an interrupted session are trained again and logged again).
fn truncate_metrics(run: &Path, step: u64) -> Result<(), TrainError> {
    let path = run.join(METRICS_FILE);
    let rows = if path.exists() {
        read_metrics(run)?
    } else {
        Vec::new()
    };
    let mut w = csv::Writer::from_path(&path)
        .map_err(|e| TrainError::Run(format!("{}: {e}", path.display())))?;
    for r in rows.into_iter().filter(|r| r.step <= step) {
        w.serialize(r)
            .map_err(|e| TrainError::Run(format!("{}: {e}", path.display())))?;
    }
    w.flush().map_err(io(&path))
}

fn append_metrics(run: &Path, rows: &[MetricsRow]) -> Result<(), TrainError> {
    let path = run.join(METRICS_FILE);
    let exists = path.metadata().is_ok_and(|m| m.len() > 0);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io(&path))?;
    let mut w = csv::WriterBuilder::new()
        .has_headers(!exists)
        .from_writer(file);
    for r in rows {
        w.serialize(r)
            .map_err(|e| TrainError::Run(format!("{}: {e}", path.display())))?;
    }
    w.flush().map_err(io(&path))
}

/// Parameter ids of the quantizer means and of their π/σ (own learning rates).
fn quantizer_params<B: burn::tensor::backend::Backend>(
    model: &Cvqn<B>,
) -> (Vec<ParamId>, Vec<ParamId>) {
    let means = model.quantizers.iter().map(|q| q.mean.id).collect();
    let pi_sigma = model
        .quantizers
        .iter()
        .flat_map(|q| [q.log_std.id, q.log_pi.id])
        .collect();
    (means, pi_sigma)
}

fn scalar<B: burn::tensor::backend::Backend>(t: Tensor<B, 1>) -> f64 {
    t.into_scalar().elem::<f64>()
}

fn batch_tensor<B: burn::tensor::backend::Backend>(
    values: Vec<f32>,
    cfg: &TrainConfig,
    device: &B::Device,
) -> Tensor<B, 4> {
    Tensor::from_data(
        TensorData::new(values, [cfg.batch_size, 3, cfg.crop, cfg.crop]),
        device,
    )
}

/// Crop side of RE importance measurements (MS-SSIM needs ≥ 176).
const RE_CROP: usize = 256;

/// Measures RE importance on `cfg.re_images` crops (256² or the largest multiple of 16
/// the smallest image allows, a data stream of its own)
/// and returns the new order.
fn measure_re_order<B: AutodiffBackend>(
    model: &Cvqn<B>,
    data: &Dataset,
    cfg: &TrainConfig,
    step: u64,
    device: &B::Device,
) -> Result<Vec<usize>, TrainError> {
    let side = RE_CROP.min(data.min_side() / 16 * 16);
    let valid = model.valid();
    let values = data.batch(cfg.seed ^ 0x5245_5245, step, cfg.re_images, side)?;
    let batch = Tensor::<B::InnerBackend, 4>::from_data(
        TensorData::new(values, [cfg.re_images, 3, side, side]),
        device,
    );
    let images: Vec<_> = (0..cfg.re_images)
        .map(|i| batch.clone().narrow(0, i, 1))
        .collect();
    let scores = re_importance(&valid, &images).map_err(|e| TrainError::Loss(e.to_string()))?;
    Ok(order_from_importance(&scores))
}

/// Trains (or resumes) the run in `opts.run`. `config` is required for a new run and
/// ignored when resuming (the run's `train.json` is used, with `steps` replaced by
/// `steps_override` if given). Stops with a checkpoint when `stop` is set.
///
/// # Errors
///
/// Configuration, data, checkpoint or numerical errors.
pub fn train<B: AutodiffBackend>(
    config: Option<TrainConfig>,
    steps_override: Option<u64>,
    opts: &TrainOptions,
    stop: &AtomicBool,
    device: &B::Device,
) -> Result<TrainSummary, TrainError> {
    let run = &opts.run;
    let mut cfg = if opts.resume {
        read_run_config(run)?
    } else {
        config.ok_or_else(|| TrainError::Run("a new run needs a configuration".into()))?
    };
    if let Some(s) = steps_override {
        cfg.steps = s;
    }
    cfg.validate()?;
    if !opts.resume && checkpoint::checkpoint_dir(run).exists() {
        return Err(TrainError::Run(format!(
            "{} already holds a run; pass --resume to continue it or choose another --out",
            run.display()
        )));
    }
    std::fs::create_dir_all(run).map_err(io(run))?;
    let cfg_path = run.join(CONFIG_FILE);
    std::fs::write(
        &cfg_path,
        serde_json::to_string_pretty(&cfg).expect("config serialises"),
    )
    .map_err(io(&cfg_path))?;

    let data = Arc::new(Dataset::open(&opts.data, cfg.crop)?);
    if cfg.model.importance == ImportanceKind::Re && cfg.re_every > 0 && data.min_side() < 176 {
        return Err(TrainError::Run(format!(
            "RE importance measures MS-SSIM on crops of at least 176 px; {} has smaller images",
            opts.data.display()
        )));
    }
    B::seed(device, cfg.seed);
    let mut model = Cvqn::<B>::new(&cfg.model, device)
        .map_err(|e| TrainError::Config(TrainConfigError(e.to_string())))?;
    let clip = (cfg.grad_clip > 0.0).then_some(GradientClippingConfig::Value(cfg.grad_clip as f32));
    let mut optimizer = AdamConfig::new()
        .with_grad_clipping(clip)
        .init::<B, Cvqn<B>>();
    let (start, mut seconds) = if opts.resume {
        let state = checkpoint::load_state(run)?;
        model = checkpoint::load_model(run, model, device)?;
        optimizer = checkpoint::load_optimizer(run, optimizer, device)?;
        truncate_metrics(run, state.step)?;
        (state.step, state.seconds)
    } else {
        if let Some(from) = &opts.init_from {
            model = checkpoint::load_model(from, model, device)?;
        } else {
            model = init::lecun_normal_transforms(model);
            // Start the quantizer means on the scale of the initial latent.
            let first = batch_tensor::<B>(
                data.batch(cfg.seed ^ 0x4d45_414e, 0, cfg.batch_size, cfg.crop)?,
                &cfg,
                device,
            );
            let latent = model.encoder.forward(first).detach();
            model.fit_quantizer_means(latent);
            if cfg.model.importance == ImportanceKind::Re {
                let mut order: Vec<usize> = (0..model.code_channels()).collect();
                order.shuffle(&mut ChaCha8Rng::seed_from_u64(cfg.seed));
                model.set_order(&order);
            }
        }
        truncate_metrics(run, 0)?;
        (0, 0.0)
    };
    if start >= cfg.steps {
        return Ok(TrainSummary {
            first_step: start,
            last_step: start,
            finished: true,
            steps_per_sec: 0.0,
        });
    }

    let loss = cfg.loss;
    let (means, pi_sigma) = quantizer_params(&model);
    let mut loader = Loader::start(
        data.clone(),
        cfg.seed,
        start,
        cfg.batch_size,
        cfg.crop,
        cfg.workers,
        2,
    );
    let bar = if opts.progress {
        let pb = ProgressBar::new(cfg.steps).with_position(start);
        pb.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} steps [{elapsed} < {eta}] {per_sec} {msg}",
            )
            .expect("template"),
        );
        pb
    } else {
        ProgressBar::hidden()
    };
    let session = Instant::now();
    let mut last_checkpoint = Instant::now();
    let mut pending: Vec<MetricsRow> = Vec::new();
    let mut step = start;
    let save =
        |model: &Cvqn<B>, optimizer: &_, step: u64, seconds: f64, rows: &mut Vec<MetricsRow>| {
            append_metrics(run, rows)?;
            rows.clear();
            let order = model
                .order
                .clone()
                .into_data()
                .convert::<i64>()
                .into_vec::<i64>()
                .map_err(|e| TrainError::Checkpoint(format!("{e:?}")))?
                .into_iter()
                .map(|v| v as usize)
                .collect();
            checkpoint::save(
                run,
                model,
                optimizer,
                &CheckpointState {
                    step,
                    order,
                    seconds,
                },
            )
        };
    let mut ema: Option<(f64, f64, f64)> = None;
    while step < cfg.steps {
        let t0 = Instant::now();
        let x = batch_tensor::<B>(loader.next_batch()?, &cfg, device);
        let out = model.forward(x.clone());
        let terms = RateDistortionLoss::evaluate(&loss, &model, x.clone(), &out)
            .map_err(|e| TrainError::Loss(e.to_string()))?;
        let log_now = (step + 1) % cfg.log_every == 0 || step + 1 == cfg.steps;
        // The logged scalars, stacked so that the device is synchronised once per step,
        // after the update has been queued: [total, distortion, rate, bpp, mse].
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
        let ms_ssim = (log_now && cfg.crop >= MS_SSIM_MIN_SIDE)
            .then(|| {
                let x255 = x.clone().inner().mul_scalar(255.0);
                let y255 = out
                    .reconstruction
                    .clone()
                    .inner()
                    .mul_scalar(255.0)
                    .clamp(0.0, 255.0);
                ms_ssim_tensor(x255, y255).map(|t| scalar(t.mean()))
            })
            .transpose()
            .map_err(|e| TrainError::Loss(e.to_string()))?;

        let mut grads = terms.total.backward();
        let g_means = GradientsParams::from_params(&mut grads, &model, &means);
        let g_pi_sigma = GradientsParams::from_params(&mut grads, &model, &pi_sigma);
        let g_net = GradientsParams::from_grads(grads, &model);
        let factor = cfg.lr_factor(step);
        model = optimizer.step(cfg.lr * factor, model, g_net);
        model = optimizer.step(cfg.lr_quantizer * factor, model, g_means);
        model = optimizer.step(0.2 * cfg.lr_quantizer * factor, model, g_pi_sigma);
        let stats = stats
            .into_data()
            .convert::<f64>()
            .into_vec::<f64>()
            .map_err(|e| TrainError::Loss(format!("{e:?}")))?;
        let [total, distortion, rate, bpp, mse] = stats[..] else {
            return Err(TrainError::Loss(format!(
                "expected 5 logged scalars, the device returned {}",
                stats.len()
            )));
        };
        if !total.is_finite() {
            // The update just applied came from a non-finite loss: stop without
            // checkpointing it.
            return Err(TrainError::Diverged(step));
        }
        let row = MetricsRow {
            step: step + 1,
            seconds: seconds + t0.elapsed().as_secs_f64(),
            lr: cfg.lr * factor,
            loss: total,
            distortion,
            rate,
            bpp,
            psnr: -10.0 * mse.max(1e-12).log10(),
            ms_ssim,
        };
        step += 1;

        if cfg.model.importance == ImportanceKind::Re
            && cfg.re_every > 0
            && step % cfg.re_every == 0
        {
            let order = measure_re_order(&model, &data, &cfg, step, device)?;
            model.set_order(&order);
        }
        seconds += t0.elapsed().as_secs_f64();
        let e = ema.map_or((row.loss, row.bpp, row.psnr), |(l, b, p)| {
            (
                0.9 * l + 0.1 * row.loss,
                0.9 * b + 0.1 * row.bpp,
                0.9 * p + 0.1 * row.psnr,
            )
        });
        ema = Some(e);
        bar.set_position(step);
        let msssim = row
            .ms_ssim
            .map_or(String::new(), |m| format!(" ms-ssim {m:.4}"));
        bar.set_message(format!(
            "loss {:.4} bpp {:.4} psnr {:.2} dB{msssim}",
            e.0, e.1, e.2
        ));
        if log_now {
            pending.push(MetricsRow { seconds, ..row });
        }
        let stopping =
            stop.load(Ordering::SeqCst) || opts.stop_after.is_some_and(|d| session.elapsed() >= d);
        if stopping
            || step == cfg.steps
            || last_checkpoint.elapsed() >= Duration::from_secs(cfg.checkpoint_secs)
        {
            save(&model, &optimizer, step, seconds, &mut pending)?;
            last_checkpoint = Instant::now();
            if opts.progress && !std::io::stderr().is_terminal() {
                // No bar on a pipe or log file: one line per checkpoint instead.
                eprintln!(
                    "step {step}/{} {:.0} s: loss {:.4} bpp {:.4} psnr {:.2} dB{msssim}",
                    cfg.steps, seconds, e.0, e.1, e.2
                );
            }
        }
        if stopping {
            break;
        }
    }
    bar.finish();
    let elapsed = session.elapsed().as_secs_f64();
    Ok(TrainSummary {
        first_step: start,
        last_step: step,
        finished: step >= cfg.steps,
        steps_per_sec: (step - start) as f64 / elapsed.max(1e-9),
    })
}

/// Loads the trained model of a run (its last checkpoint) on a backend without autodiff.
///
/// # Errors
///
/// Missing run files or a checkpoint that does not fit the configuration.
pub fn load_trained<B: burn::tensor::backend::Backend>(
    run: &Path,
    device: &B::Device,
) -> Result<(Cvqn<B>, TrainConfig, CheckpointState), TrainError> {
    let cfg = read_run_config(run)?;
    let model = Cvqn::<B>::new(&cfg.model, device)
        .map_err(|e| TrainError::Config(TrainConfigError(e.to_string())))?;
    let model = checkpoint::load_model(run, model, device)?;
    Ok((model, cfg, checkpoint::load_state(run)?))
}
