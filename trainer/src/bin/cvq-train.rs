//! `cvq-train`: train, export, evaluate and plot cvq models (a thin layer over the
//! `trainer` library).
//!
//! The training backend is chosen at build time: `--features cuda` (burn-cuda, the
//! production path), `--features wgpu`, otherwise the Flex CPU backend.
//! Exit status: 0 on success (also when stopped by SIGINT/SIGTERM or `--stop-after`
//! with a checkpoint written), 1 on errors, 2 on bad usage.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use burn::backend::Autodiff;
use clap::{Parser, Subcommand, ValueEnum};
use cvq::{Cpu, load_model};
use cvq_core::codec::CodecModel;
use cvq_core::config::{CvqnConfig, Preset};
use cvq_core::loaded::LoadedModel;
use cvq_core::loss::{Distortion, RateGradient, RateTerm};
use cvq_core::recurrent::IterationWeighting;
use cvq_core::recurrent::codec::RecurrentCodecModel;
use cvq_core::recurrent::config::{RecurrentConfig, RecurrentPreset};
use cvq_entropy::WeightPrecision;
use cvq_train::train::bench::{BenchOptions, bench, table};
use cvq_train::train::recurrent::{
    RecurrentTrainConfig, is_recurrent_run, load_trained_recurrent, train_recurrent,
};
use cvq_train::train::{TrainConfig, TrainOptions, load_trained, train};
use cvq_train::{eval, pack, plot};

#[cfg(feature = "cuda")]
type TrainBackend = burn::backend::Cuda;
#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
type TrainBackend = burn::backend::Wgpu;
#[cfg(not(any(feature = "cuda", feature = "wgpu")))]
type TrainBackend = burn::backend::Flex;

const BACKEND_NAME: &str = if cfg!(feature = "cuda") {
    "cuda"
} else if cfg!(feature = "wgpu") {
    "wgpu"
} else {
    "cpu (flex)"
};

#[derive(Parser)]
#[command(
    name = "cvq-train",
    version,
    about = "Train, export, evaluate and plot cvq models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LossKind {
    /// λ·255²·MSE + rate (recurrent: the seed's L1 of the residuals alone).
    Mse,
    /// α·(1 − MS-SSIM) + rate (recurrent: L1 + α·(1 − MS-SSIM) averaged over the
    /// iterations); crops ≥ 176.
    MsSsim,
}

#[derive(Clone, Copy, ValueEnum)]
enum RateKind {
    /// The seed's: mean over groups of the mean cross-entropy per symbol (nats).
    Seed,
    /// Estimated bits per pixel (CompressAI's λ scale).
    Bpp,
}

#[derive(Clone, Copy, ValueEnum)]
enum RateGradientKind {
    /// Also through each symbol's soft assignment, so the distortion weight moves the
    /// rate (straight-through, as for the values).
    Soft,
    /// Only through the context model's inputs (the seed's).
    Context,
}

#[derive(Clone, Copy, ValueEnum)]
enum BinarizerKind {
    /// ±1 drawn with probability (1 ± b)/2 (the seed's training binarizer).
    Stochastic,
    /// The sign of b, as at inference (straight-through gradient).
    Deterministic,
}

#[derive(Clone, Copy, ValueEnum)]
enum IterationWeightingKind {
    /// Every iteration's mean absolute residual counts the same (the seed's loss).
    Equal,
    /// Each iteration's L1 weighted by mean/own (the gradient of the mean log L1): later
    /// iterations, with smaller residuals, get as much of the gradient as the first.
    Relative,
}

#[derive(Clone, Copy, ValueEnum)]
enum Precision {
    F16,
    F32,
}

/// Model, loss and optimiser settings shared by `train` and `bench`.
#[derive(clap::Args)]
struct StepArgs {
    /// Model preset: paper, thesis, baseline, small, tiny (CVQN), or rnn-seed,
    /// rnn-compact, rnn-tiny (the recurrent family).
    #[arg(long, conflicts_with = "config", default_value = "small")]
    preset: String,
    /// Model configuration (JSON, as printed by `cvq info --json`; a recurrent
    /// configuration, with a `cell` field, trains the recurrent family).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Crop side (multiple of 16) [default: 256; recurrent: 32].
    #[arg(long)]
    crop: Option<usize>,
    /// Distortion term.
    #[arg(long, value_enum, default_value = "mse")]
    loss: LossKind,
    /// Weight of the distortion term (λ for MSE, α for MS-SSIM).
    #[arg(long, default_value_t = 0.01)]
    weight: f64,
    /// Weight β of the GMM prior term (0: off).
    #[arg(long, default_value_t = 0.0)]
    gmm_beta: f64,
    /// Rate term of the loss.
    #[arg(long, value_enum, default_value = "seed")]
    rate_term: RateKind,
    /// How the rate's gradient reaches the encoder.
    #[arg(long, value_enum, default_value = "soft")]
    rate_gradient: RateGradientKind,
    /// Distortion weights of the rate points of a variable-rate model (comma list,
    /// lowest quality first; one per `rate_points` of the model config).
    #[arg(long, value_delimiter = ',')]
    rate_weights: Vec<f64>,
    /// Learning rate of the network [default: 1e-4; recurrent: 5e-4].
    #[arg(long)]
    lr: Option<f64>,
    /// Learning rate of the quantizer means (π, σ: 0.2×).
    #[arg(long, default_value_t = 5e-5)]
    lr_quantizer: f64,
    /// Clip gradients to ±this (0: off) [default: 1; recurrent: 0.5].
    #[arg(long)]
    grad_clip: Option<f64>,
    /// Seed of initialisation and data order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Data-loading threads (default 2; with --resume it replaces the run's value for
    /// this session: batches do not depend on it).
    #[arg(long)]
    workers: Option<usize>,
    /// Binarizer during training (recurrent family only).
    #[arg(long, value_enum, default_value = "stochastic")]
    binarizer: BinarizerKind,
    /// How the loss weights the iterations (recurrent family only).
    #[arg(long, value_enum, default_value = "equal")]
    iteration_weights: IterationWeightingKind,
}

impl StepArgs {
    /// A training configuration with these settings and `TrainConfig::new`'s defaults
    /// for everything else.
    fn config(&self) -> Result<TrainConfig, String> {
        let mut cfg = TrainConfig::new(model_config(&self.preset, self.config.as_deref())?);
        cfg.loss.distortion = match self.loss {
            LossKind::Mse => Distortion::Mse {
                lambda: self.weight,
            },
            LossKind::MsSsim => Distortion::MsSsim { alpha: self.weight },
        };
        cfg.loss.gmm_beta = self.gmm_beta;
        cfg.loss.rate = match self.rate_term {
            RateKind::Seed => RateTerm::GroupMeanNats,
            RateKind::Bpp => RateTerm::Bpp,
        };
        cfg.loss.rate_gradient = match self.rate_gradient {
            RateGradientKind::Soft => RateGradient::Soft,
            RateGradientKind::Context => RateGradient::Context,
        };
        cfg.rate_weights = self.rate_weights.clone();
        cfg.crop = self.crop.unwrap_or(cfg.crop);
        cfg.lr = self.lr.unwrap_or(cfg.lr);
        cfg.lr_quantizer = self.lr_quantizer;
        cfg.grad_clip = self.grad_clip.unwrap_or(cfg.grad_clip);
        cfg.seed = self.seed;
        if let Some(w) = self.workers {
            cfg.workers = w;
        }
        Ok(cfg)
    }

    /// The recurrent model these arguments name (a `rnn-…` preset or a configuration
    /// file with a `cell` field), or `None` for a CVQN model.
    fn recurrent_model(&self) -> Result<Option<RecurrentConfig>, String> {
        if let Some(path) = &self.config {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            if value.get("cell").is_none() {
                return Ok(None);
            }
            return serde_json::from_value(value)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display()));
        }
        match self.preset.strip_prefix("rnn-") {
            Some(name) => name
                .parse::<RecurrentPreset>()
                .map(|p| Some(RecurrentConfig::preset(p)))
                .map_err(|e| e.to_string()),
            None => Ok(None),
        }
    }

    /// A recurrent training configuration with these settings.
    fn recurrent_config(&self, model: RecurrentConfig) -> RecurrentTrainConfig {
        let mut cfg = RecurrentTrainConfig::new(model);
        cfg.crop = self.crop.unwrap_or(cfg.crop);
        cfg.lr = self.lr.unwrap_or(cfg.lr);
        cfg.grad_clip = self.grad_clip.unwrap_or(cfg.grad_clip);
        cfg.seed = self.seed;
        cfg.stochastic_binarizer = matches!(self.binarizer, BinarizerKind::Stochastic);
        cfg.iteration_weighting = match self.iteration_weights {
            IterationWeightingKind::Equal => IterationWeighting::Equal,
            IterationWeightingKind::Relative => IterationWeighting::Relative,
        };
        if matches!(self.loss, LossKind::MsSsim) {
            cfg.ms_ssim_weight = self.weight;
        }
        if let Some(w) = self.workers {
            cfg.workers = w;
        }
        cfg
    }
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Run folder: train.json, metrics.csv, checkpoint/.
    #[arg(long)]
    out: PathBuf,
    /// Training images: a folder (PNG/JPEG/WebP) or a pack from `prepare`.
    #[arg(long, default_value = "../shared/data/train")]
    data: PathBuf,
    /// Continue the run in --out from its last checkpoint (its train.json is used).
    #[arg(long)]
    resume: bool,
    /// Start from another run's weights, or from a model file (`.cvqm`, f16 weights
    /// widened to f32) of the same configuration: fine-tuning with a fresh optimizer from step 0.
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Total steps of the run (with --resume: extend or shorten the run).
    #[arg(long)]
    steps: Option<u64>,
    /// Images per batch [default: 8; recurrent: 32].
    #[arg(long)]
    batch_size: Option<usize>,
    #[command(flatten)]
    step: StepArgs,
    /// Steps at which the learning rates are multiplied by --lr-gamma (comma list).
    #[arg(long, value_delimiter = ',')]
    milestones: Vec<u64>,
    /// Multi-step decay factor.
    #[arg(long, default_value_t = 0.2)]
    lr_gamma: f64,
    /// Rate point written into exported model files.
    #[arg(long, default_value_t = 1)]
    quality: u8,
    /// Checkpoint at least every this many seconds.
    #[arg(long, default_value_t = 120)]
    checkpoint_secs: u64,
    /// Log a metrics.csv row every this many steps.
    #[arg(long, default_value_t = 10)]
    log_every: u64,
    /// Checkpoint and stop after this many seconds (for time-limited machines).
    #[arg(long)]
    stop_after: Option<u64>,
}

#[derive(clap::Args)]
struct BenchArgs {
    #[command(flatten)]
    step: StepArgs,
    /// Batch sizes to measure (comma list), each with a fresh model.
    #[arg(long, value_delimiter = ',', default_value = "8")]
    batch_sizes: Vec<usize>,
    /// Real training data (folder or pack); default: random images.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Untimed steps after the start (the first one is timed alone: the cold start).
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Timed steps per batch size.
    #[arg(long, default_value_t = 20)]
    steps: u64,
    /// Steps timed phase by phase (device synchronised after each phase).
    #[arg(long, default_value_t = 5)]
    phase_steps: u64,
    /// Also write the rows as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model (new run, or --resume an interrupted one).
    Train(Box<TrainArgs>),
    /// Measure training steps per second (and crops per second) at several batch sizes,
    /// with the time split into upload, forward, backward, optimizer and read-back.
    Bench(Box<BenchArgs>),
    /// Write the training batches of steps 0..N as raw bytes (u8, `[N, B, 3, crop, crop]`,
    /// value = byte / 255): the exact crops a run with this seed sees, for
    /// `tools/torch_reference/cvqn_ref.py --batches` (learning-per-step comparison).
    Batches {
        /// Training images: a folder or a pack.
        #[arg(long, default_value = "../shared/data/train")]
        data: PathBuf,
        /// The run's seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Images per batch.
        #[arg(long, default_value_t = 8)]
        batch_size: usize,
        /// Crop side.
        #[arg(long, default_value_t = 256)]
        crop: usize,
        /// Number of steps (batches) to write.
        #[arg(long)]
        steps: u64,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write the frozen model file (.cvqm) of a run's last checkpoint.
    Export {
        /// Run folder.
        #[arg(long)]
        run: PathBuf,
        /// Output model file.
        #[arg(short, long)]
        output: PathBuf,
        /// Weight precision.
        #[arg(long, value_enum, default_value = "f16")]
        precision: Precision,
        /// Rate point stored in the file (default: the run's `quality`).
        #[arg(long)]
        quality: Option<u8>,
    },
    /// Cut the decoder-only model file (.cvqd) out of a .cvqm of either family: CVQN's
    /// decoder, quantizers and integer entropy model, or the recurrent networks without
    /// the encoder's cells. It decodes that model's .cvq files identically and cannot
    /// encode; the web build embeds the default one (web/README.md).
    DecoderOnly {
        /// Full model file (.cvqm).
        model: PathBuf,
        /// Output file (.cvqd).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Encode and decode every image of a folder; write JSON and CSV.
    Eval {
        /// Model file (.cvqm); default: the embedded model at --quality.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Rate point of the embedded model set.
        #[arg(long)]
        quality: Option<u8>,
        /// Images (default: the Kodak set).
        #[arg(long, default_value = "../shared/data/kodak")]
        data: PathBuf,
        /// Output prefix: writes PREFIX.json and PREFIX.csv.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Time encoding and decoding of one image on this build's backend (entropy coding
    /// on the host, synthesis on the device), median of --runs.
    Speed {
        /// Model file (.cvqm).
        #[arg(long)]
        model: PathBuf,
        /// Image (PNG/JPEG/WebP).
        image: PathBuf,
        /// Quality to encode at (default: the model's).
        #[arg(long)]
        quality: Option<u8>,
        /// Timed repetitions (after one warm-up).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Draw a run's training curves (loss, bpp, PSNR, MS-SSIM) as SVG.
    Plot {
        /// Run folder.
        #[arg(long)]
        run: PathBuf,
        /// Output SVG (default: RUN/curves.svg).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Pack a folder of training photos into one file (optionally downscaled).
    Prepare {
        /// Image folder.
        #[arg(long, default_value = "../shared/data/train")]
        data: PathBuf,
        /// Output pack file.
        #[arg(short, long)]
        output: PathBuf,
        /// Downscale so the longer side is at most this.
        #[arg(long)]
        max_side: Option<usize>,
        /// Store JPEG of this quality (1–100) instead of PNG, for a smaller pack.
        #[arg(long)]
        jpeg_quality: Option<u8>,
    },
}

fn model_config(preset: &str, config: Option<&Path>) -> Result<CvqnConfig, String> {
    match config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
        }
        None => preset
            .parse::<Preset>()
            .map(CvqnConfig::preset)
            .map_err(|e| e.to_string()),
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Train(args) => {
            let TrainArgs {
                out,
                data,
                resume,
                init_from,
                steps,
                batch_size,
                step,
                milestones,
                lr_gamma,
                quality,
                checkpoint_secs,
                log_every,
                stop_after,
            } = *args;
            let recurrent = if resume {
                is_recurrent_run(&out).then_some(None)
            } else {
                step.recurrent_model()?.map(Some)
            };
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
                .map_err(|e| format!("cannot install the signal handler: {e}"))?;
            let opts = TrainOptions {
                run: out.clone(),
                data,
                resume,
                init_from,
                stop_after: stop_after.map(Duration::from_secs),
                progress: true,
                workers: step.workers,
            };
            let device = Default::default();
            let summary = match recurrent {
                Some(model) => {
                    let cfg = model.map(|m| {
                        let mut cfg = step.recurrent_config(m);
                        cfg.steps = steps.unwrap_or(cfg.steps);
                        cfg.batch_size = batch_size.unwrap_or(cfg.batch_size);
                        cfg.lr_milestones = milestones;
                        cfg.lr_gamma = lr_gamma;
                        cfg.checkpoint_secs = checkpoint_secs;
                        cfg.log_every = log_every;
                        cfg
                    });
                    train_recurrent::<Autodiff<TrainBackend>>(cfg, steps, &opts, &stop, &device)
                }
                None => {
                    let cfg = if resume {
                        None
                    } else {
                        let mut cfg = step.config()?;
                        cfg.steps = steps.unwrap_or(cfg.steps);
                        cfg.batch_size = batch_size.unwrap_or(cfg.batch_size);
                        cfg.lr_milestones = milestones;
                        cfg.lr_gamma = lr_gamma;
                        cfg.quality = quality;
                        cfg.checkpoint_secs = checkpoint_secs;
                        cfg.log_every = log_every;
                        Some(cfg)
                    };
                    train::<Autodiff<TrainBackend>>(cfg, steps, &opts, &stop, &device)
                }
            }
            .map_err(|e| e.to_string())?;
            eprintln!(
                "{}: steps {}..{} on {BACKEND_NAME}, {:.3} steps/s{}",
                out.display(),
                summary.first_step,
                summary.last_step,
                summary.steps_per_sec,
                if summary.finished {
                    ", finished".to_string()
                } else {
                    format!(
                        "; checkpoint written, continue with --resume --out {}",
                        out.display()
                    )
                }
            );
            Ok(())
        }
        Command::Bench(args) => {
            if args.step.recurrent_model()?.is_some() {
                return Err(
                    "bench times the CVQN family; time a recurrent model with `cvq-train train \
                     --steps N` (its summary line gives steps/s)"
                        .into(),
                );
            }
            let cfg = args.step.config()?;
            let opts = BenchOptions {
                batch_sizes: args.batch_sizes.clone(),
                warmup: args.warmup,
                steps: args.steps,
                phase_steps: args.phase_steps,
                data: args.data.clone(),
            };
            let device = Default::default();
            eprintln!(
                "cvq-train bench on {BACKEND_NAME}: model {}, crop {}, warm-up {}, {} timed steps, {} phase-timed steps, {} data",
                cfg.model.name,
                cfg.crop,
                opts.warmup,
                opts.steps,
                opts.phase_steps,
                if opts.data.is_some() {
                    "real"
                } else {
                    "random"
                }
            );
            let rows = bench::<Autodiff<TrainBackend>>(&cfg, &opts, &device, |r| {
                eprintln!(
                    "batch {}: first step {:.2} s, {:.3} steps/s, {:.1} crops/s",
                    r.batch, r.first_step_s, r.steps_per_s, r.crops_per_s
                );
            })
            .map_err(|e| e.to_string())?;
            print!("{}", table(&rows));
            if let Some(path) = &args.json {
                let json = serde_json::json!({
                    "backend": BACKEND_NAME,
                    "model": cfg.model.name,
                    "crop": cfg.crop,
                    "rows": rows,
                });
                std::fs::write(path, serde_json::to_string_pretty(&json).expect("json"))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            Ok(())
        }
        Command::Batches {
            data,
            seed,
            batch_size,
            crop,
            steps,
            output,
        } => {
            let n = cvq_train::data::write_batches(&data, seed, batch_size, crop, steps, &output)
                .map_err(|e| e.to_string())?;
            println!("{}: {steps} batches, {n} bytes", output.display());
            Ok(())
        }
        Command::Export {
            run,
            output,
            precision,
            quality,
        } => {
            let device = Default::default();
            let precision = match precision {
                Precision::F16 => WeightPrecision::F16,
                Precision::F32 => WeightPrecision::F32,
            };
            if is_recurrent_run(&run) {
                let (net, cfg, state) =
                    load_trained_recurrent::<Cpu>(&run, &device).map_err(|e| e.to_string())?;
                let iterations = cfg.model.iterations;
                let (codec, file) = RecurrentCodecModel::freeze(net, cfg.model, precision, &device)
                    .map_err(|e| format!("{}: cannot export: {e}", run.display()))?;
                let bytes = file.to_bytes().map_err(|e| e.to_string())?;
                std::fs::write(&output, &bytes)
                    .map_err(|e| format!("{}: {e}", output.display()))?;
                println!(
                    "{}: {} ({} bytes, step {}, recurrent, 1..={iterations} iterations)",
                    output.display(),
                    codec.id_string(),
                    bytes.len(),
                    state.step,
                );
                return Ok(());
            }
            let (model, cfg, state) =
                load_trained::<Cpu>(&run, &device).map_err(|e| e.to_string())?;
            let quality = quality.unwrap_or(cfg.quality);
            let (codec, file) = CodecModel::freeze(model, cfg.model, quality, precision, &device)
                .map_err(|e| format!("{}: cannot export: {e}", run.display()))?;
            let bytes = file.to_bytes().map_err(|e| e.to_string())?;
            std::fs::write(&output, &bytes).map_err(|e| format!("{}: {e}", output.display()))?;
            println!(
                "{}: {} ({} bytes, step {}, quality {})",
                output.display(),
                codec.id_string(),
                bytes.len(),
                state.step,
                quality
            );
            Ok(())
        }
        Command::DecoderOnly { model, output } => {
            let bytes = std::fs::read(&model).map_err(|e| format!("{}: {e}", model.display()))?;
            let cut = LoadedModel::<Cpu>::load(&bytes, &Default::default())
                .and_then(|m| Ok((m.id_string(), m.decoder_only_bytes()?)));
            let (id, cut) = cut.map_err(|e| format!("{}: {e}", model.display()))?;
            std::fs::write(&output, &cut).map_err(|e| format!("{}: {e}", output.display()))?;
            println!(
                "{}: decoder-only {id} ({} of {} bytes)",
                output.display(),
                cut.len(),
                bytes.len()
            );
            Ok(())
        }
        Command::Eval {
            model,
            quality,
            data,
            output,
        } => {
            let codec = load_model(model.as_deref(), quality).map_err(|e| e.to_string())?;
            let files = eval::image_files(&data).map_err(|e| e.to_string())?;
            // Several qualities (a variable-rate model file, or a recurrent model's
            // iteration counts, without --quality): one report each (PREFIX-qN.json/csv).
            let write = |report: &eval::EvalReport, several: bool| -> Result<(), String> {
                let prefix = if several {
                    let name = output.file_name().unwrap_or_default().to_string_lossy();
                    output.with_file_name(format!("{name}-q{}", report.quality))
                } else {
                    output.clone()
                };
                let json = prefix.with_extension("json");
                let csv = prefix.with_extension("csv");
                eval::write_report(report, &json, &csv).map_err(|e| e.to_string())?;
                println!("{}", eval::summary(report));
                println!("wrote {} and {}", json.display(), csv.display());
                Ok(())
            };
            if quality.is_none() && codec.recurrent().is_some() {
                // Every iteration count from one encode per image.
                let reports =
                    eval::evaluate_recurrent(&codec, &files, true).map_err(|e| e.to_string())?;
                return reports.iter().try_for_each(|r| write(r, true));
            }
            let qualities = match (model.is_some(), quality) {
                (true, None) if codec.qualities().len() > 1 => codec.qualities(),
                (_, Some(q)) => vec![q],
                _ => vec![codec.quality()],
            };
            for &q in &qualities {
                let report = eval::evaluate(&codec, q, &files, true).map_err(|e| e.to_string())?;
                write(&report, qualities.len() > 1)?;
            }
            Ok(())
        }
        Command::Speed {
            model,
            image,
            quality,
            runs,
        } => {
            let bytes = std::fs::read(&model).map_err(|e| format!("{}: {e}", model.display()))?;
            let device = Default::default();
            let codec = CodecModel::<TrainBackend>::load(&bytes, &device)
                .map_err(|e| format!("{}: {e}", model.display()))?;
            let img = cvq::io::read_image(&image).map_err(|e| e.to_string())?;
            let q = quality.unwrap_or(codec.quality);
            let report = cvq_train::speed::measure(&codec, &img, q, runs)
                .map_err(|e| format!("{}: {e}", image.display()))?;
            let mut json = serde_json::to_value(&report).expect("json");
            json["backend"] = BACKEND_NAME.into();
            println!("{json}");
            Ok(())
        }
        Command::Plot { run, output } => {
            let output = output.unwrap_or_else(|| run.join("curves.svg"));
            plot::plot_run(&run, &output).map_err(|e| e.to_string())?;
            println!("wrote {}", output.display());
            Ok(())
        }
        Command::Prepare {
            data,
            output,
            max_side,
            jpeg_quality,
        } => {
            let bar = indicatif::ProgressBar::new(0);
            let (n, bytes) = pack::prepare(&data, &output, max_side, jpeg_quality, |i, n| {
                bar.set_length(n as u64);
                bar.set_position(i as u64);
            })
            .map_err(|e| e.to_string())?;
            bar.finish_and_clear();
            println!("{}: {n} images, {bytes} bytes", output.display());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cvq-train: error: {e}");
            ExitCode::FAILURE
        }
    }
}
