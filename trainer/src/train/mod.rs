//! `cvq-train train`: the training loop (any Burn autodiff backend; the binary picks
//! Flex on CPU, CUDA or WGPU by feature).
//!
//! One step: batch `[B, 3, crop, crop]` → [`Cvqn::forward`] → [`RateDistortionLoss`] →
//! backward → Adam with three learning rates (network at `lr`, quantizer means at
//! `lr_quantizer`, quantizer π/σ at `0.2 × lr_quantizer`, all times the multi-step
//! factor), gradients clipped by value. With RE importance the channel order is
//! re-measured every `re_every` steps.

pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod init;
pub mod recurrent;
pub mod step;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use cvq_core::config::ImportanceKind;
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
pub use step::{ParamGroups, PhaseTimes, StepStats, batch_tensor, new_optimizer, train_step};

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
    /// Data-loading threads for this session (replaces the run's `workers`; batches
    /// do not depend on it).
    pub workers: Option<usize>,
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
    /// Rate point of the step (variable-rate models; empty for fixed-rate ones and in
    /// files written before variable rate existed).
    #[serde(default)]
    pub rate_point: Option<usize>,
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
    read_config(run)
}

/// What the CVQN and the recurrent training configurations share as `train.json` of a
/// run folder.
pub trait RunConfig: Serialize + serde::de::DeserializeOwned {
    /// Checks every field.
    ///
    /// # Errors
    ///
    /// The first problem found.
    fn check(&self) -> Result<(), TrainConfigError>;

    /// Applies a session's `--steps` and `--workers` (each when given).
    fn override_session(&mut self, steps: Option<u64>, workers: Option<usize>);
}

impl RunConfig for TrainConfig {
    fn check(&self) -> Result<(), TrainConfigError> {
        self.validate()
    }

    fn override_session(&mut self, steps: Option<u64>, workers: Option<usize>) {
        self.steps = steps.unwrap_or(self.steps);
        self.workers = workers.unwrap_or(self.workers);
    }
}

/// Reads and checks `train.json` of a run.
fn read_config<C: RunConfig>(run: &Path) -> Result<C, TrainError> {
    let path = run.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let cfg: C = serde_json::from_str(&text)
        .map_err(|e| TrainError::Run(format!("{}: {e}", path.display())))?;
    cfg.check()?;
    Ok(cfg)
}

/// The configuration of a training session: the run's own when resuming, else
/// `config`; with the session's overrides, checked, written into the run folder.
fn start_session<C: RunConfig>(
    config: Option<C>,
    steps_override: Option<u64>,
    opts: &TrainOptions,
) -> Result<C, TrainError> {
    let mut cfg = if opts.resume {
        read_config(&opts.run)?
    } else {
        config.ok_or_else(|| TrainError::Run("a new run needs a configuration".into()))?
    };
    cfg.override_session(steps_override, opts.workers);
    cfg.check()?;
    prepare_run_folder(&opts.run, opts.resume, &cfg)?;
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

/// Creates the run folder and writes its (validated) configuration; a new run
/// (`resume` false) refuses a folder that already holds a checkpoint.
fn prepare_run_folder(run: &Path, resume: bool, cfg: &impl Serialize) -> Result<(), TrainError> {
    if !resume && checkpoint::checkpoint_dir(run).exists() {
        return Err(TrainError::Run(format!(
            "{} already holds a run; pass --resume to continue it or choose another --out",
            run.display()
        )));
    }
    std::fs::create_dir_all(run).map_err(io(run))?;
    let cfg_path = run.join(CONFIG_FILE);
    std::fs::write(
        &cfg_path,
        serde_json::to_string_pretty(cfg).expect("config serialises"),
    )
    .map_err(io(&cfg_path))
}

/// The training progress bar (hidden when `show` is false).
fn progress_bar(show: bool, steps: u64, start: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(steps).with_position(start);
    pb.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps [{elapsed} < {eta}] {per_sec} {msg}",
        )
        .expect("template"),
    );
    pb
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

/// A new model for `cfg`, initialised for training: Burn's seeded default init, then
/// the transforms redrawn ([`init::lecun_normal_transforms`]), the quantizer means fitted
/// to the first latent (a batch of its own data stream), and with RE importance a random
/// first channel order.
///
/// # Errors
///
/// Invalid model configuration or unreadable data.
pub fn initial_model<B: AutodiffBackend>(
    cfg: &TrainConfig,
    data: &Dataset,
    device: &B::Device,
) -> Result<Cvqn<B>, TrainError> {
    let first = data.batch(cfg.seed ^ 0x4d45_414e, 0, cfg.batch_size, cfg.crop)?;
    initial_model_from::<B>(cfg, first, device)
}

/// [`initial_model`] with the quantizer means fitted to the batch `first`
/// (`[batch_size, 3, crop, crop]`, `0..1`).
///
/// # Errors
///
/// Invalid model configuration.
pub fn initial_model_from<B: AutodiffBackend>(
    cfg: &TrainConfig,
    first: Vec<f32>,
    device: &B::Device,
) -> Result<Cvqn<B>, TrainError> {
    B::seed(device, cfg.seed);
    let model = Cvqn::<B>::new(&cfg.model, device)
        .map_err(|e| TrainError::Config(TrainConfigError(e.to_string())))?;
    let mut model = init::lecun_normal_transforms(model);
    let first = batch_tensor::<B>(first, cfg.batch_size, cfg.crop, device);
    let latent = model.encoder.forward(first).detach();
    // A variable-rate model's means must cover the latent at its largest gain (the
    // highest rate point); lower rate points then use fewer, central levels.
    let latent = match &model.gain {
        Some(g) => latent * cvq_core::model::synthesis::gain_at(g, model.rate_points() - 1),
        None => latent,
    };
    model.fit_quantizer_means(latent);
    if cfg.model.importance == ImportanceKind::Re {
        let mut order: Vec<usize> = (0..model.code_channels()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(cfg.seed));
        model.set_order(&order);
    }
    Ok(model)
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
    let cfg = start_session(config, steps_override, opts)?;

    let data = Arc::new(Dataset::open(&opts.data, cfg.crop)?);
    if cfg.model.importance == ImportanceKind::Re && cfg.re_every > 0 && data.min_side() < 176 {
        return Err(TrainError::Run(format!(
            "RE importance measures MS-SSIM on crops of at least 176 px; {} has smaller images",
            opts.data.display()
        )));
    }
    B::seed(device, cfg.seed);
    let mut model = if opts.resume {
        Cvqn::<B>::new(&cfg.model, device)
            .map_err(|e| TrainError::Config(TrainConfigError(e.to_string())))?
    } else if let Some(from) = &opts.init_from {
        if from.is_file() {
            checkpoint::cvqn_from_model_file(from, &cfg.model, device)?
        } else {
            let model = Cvqn::<B>::new(&cfg.model, device)
                .map_err(|e| TrainError::Config(TrainConfigError(e.to_string())))?;
            checkpoint::load_model(from, model, device)?
        }
    } else {
        initial_model(&cfg, &data, device)?
    };
    let mut optimizer = new_optimizer::<B>(&cfg);
    let (start, mut seconds) = if opts.resume {
        let state = checkpoint::load_state(run)?;
        model = checkpoint::load_model(run, model, device)?;
        optimizer = match checkpoint::load_optimizer(run, optimizer, device)? {
            Some(o) => o,
            None => {
                if opts.progress {
                    eprintln!(
                        "{}: the checkpoint holds no optimizer state; continuing from step {} with fresh Adam moments (warm restart)",
                        run.display(),
                        state.step
                    );
                }
                new_optimizer::<B>(&cfg)
            }
        };
        truncate_metrics(run, state.step)?;
        (state.step, state.seconds)
    } else {
        truncate_metrics(run, 0)?;
        (0, 0.0)
    };

    let groups = ParamGroups::of(&model);
    let bar = progress_bar(opts.progress, cfg.steps, start);
    let session = Instant::now();
    let mut last_checkpoint = Instant::now();
    let mut pending: Vec<MetricsRow> = Vec::new();
    let mut step = start;
    let save =
        |model: &Cvqn<B>, optimizer: &_, step: u64, seconds: f64, rows: &mut Vec<MetricsRow>| {
            append_metrics(run, rows)?;
            rows.clear();
            checkpoint::save(
                run,
                model,
                optimizer,
                &CheckpointState {
                    step,
                    order: model.order_vec(),
                    seconds,
                },
            )
        };
    if !opts.resume {
        // The starting point is a checkpoint too: a run stopped before its first timed
        // checkpoint resumes from it, and its weights can be compared with other trainers.
        save(&model, &optimizer, 0, 0.0, &mut pending)?;
    }
    if start >= cfg.steps {
        return Ok(TrainSummary {
            first_step: start,
            last_step: start,
            finished: true,
            steps_per_sec: 0.0,
        });
    }
    let mut loader = Loader::start(
        data.clone(),
        cfg.seed,
        start,
        cfg.batch_size,
        cfg.crop,
        cfg.workers,
        2,
    );
    let mut ema: Option<(f64, f64, f64)> = None;
    while step < cfg.steps {
        let t0 = Instant::now();
        let log_now = (step + 1) % cfg.log_every == 0 || step + 1 == cfg.steps;
        let (updated, stats) = train_step(
            model,
            &mut optimizer,
            &groups,
            &cfg,
            loader.next_batch()?,
            step,
            log_now,
            None,
            device,
        )?;
        model = updated;
        let row = MetricsRow {
            step: step + 1,
            seconds: seconds + t0.elapsed().as_secs_f64(),
            lr: cfg.lr * cfg.lr_factor(step),
            loss: stats.loss,
            distortion: stats.distortion,
            rate: stats.rate,
            bpp: stats.bpp,
            psnr: -10.0 * stats.mse.max(1e-12).log10(),
            ms_ssim: stats.ms_ssim,
            rate_point: (cfg.model.num_rate_points() > 1).then_some(stats.rate_point),
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
