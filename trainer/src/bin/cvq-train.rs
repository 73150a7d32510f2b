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
use cvq_core::loss::Distortion;
use cvq_entropy::WeightPrecision;
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
    /// λ·255²·MSE + rate.
    Mse,
    /// α·(1 − MS-SSIM) + rate (crops ≥ 176).
    MsSsim,
}

#[derive(Clone, Copy, ValueEnum)]
enum Precision {
    F16,
    F32,
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
    /// Model preset: paper, thesis, baseline, small, tiny.
    #[arg(long, conflicts_with = "config", default_value = "small")]
    preset: String,
    /// Model configuration (JSON, as printed by `cvq info --json`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Start from another run's weights (fine-tuning: fresh optimizer, step 0).
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Total steps of the run (with --resume: extend or shorten the run).
    #[arg(long)]
    steps: Option<u64>,
    /// Images per batch.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Crop side (multiple of 16).
    #[arg(long, default_value_t = 256)]
    crop: usize,
    /// Distortion term.
    #[arg(long, value_enum, default_value = "mse")]
    loss: LossKind,
    /// Weight of the distortion term (λ for MSE, α for MS-SSIM).
    #[arg(long, default_value_t = 0.01)]
    weight: f64,
    /// Weight β of the GMM prior term (0: off).
    #[arg(long, default_value_t = 0.0)]
    gmm_beta: f64,
    /// Learning rate of the network.
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Learning rate of the quantizer means (π, σ: 0.2×).
    #[arg(long, default_value_t = 5e-5)]
    lr_quantizer: f64,
    /// Steps at which the learning rates are multiplied by --lr-gamma (comma list).
    #[arg(long, value_delimiter = ',')]
    milestones: Vec<u64>,
    /// Multi-step decay factor.
    #[arg(long, default_value_t = 0.2)]
    lr_gamma: f64,
    /// Clip gradients to ±this (0: off).
    #[arg(long, default_value_t = 1.0)]
    grad_clip: f64,
    /// Rate point written into exported model files.
    #[arg(long, default_value_t = 1)]
    quality: u8,
    /// Seed of initialisation and data order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Checkpoint at least every this many seconds.
    #[arg(long, default_value_t = 120)]
    checkpoint_secs: u64,
    /// Log a metrics.csv row every this many steps.
    #[arg(long, default_value_t = 10)]
    log_every: u64,
    /// Data-loading threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Checkpoint and stop after this many seconds (for time-limited machines).
    #[arg(long)]
    stop_after: Option<u64>,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model (new run, or --resume an interrupted one).
    Train(Box<TrainArgs>),
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
    /// Cut the decoder-only model file (.cvqd: decoder, quantizers, integer entropy
    /// model) out of a .cvqm. It decodes that model's .cvq files identically and cannot
    /// encode; the web build embeds it (web/README.md).
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
                preset,
                config,
                init_from,
                steps,
                batch_size,
                crop,
                loss,
                weight,
                gmm_beta,
                lr,
                lr_quantizer,
                milestones,
                lr_gamma,
                grad_clip,
                quality,
                seed,
                checkpoint_secs,
                log_every,
                workers,
                stop_after,
            } = *args;
            let cfg = if resume {
                None
            } else {
                let mut cfg = TrainConfig::new(model_config(&preset, config.as_deref())?);
                cfg.loss.distortion = match loss {
                    LossKind::Mse => Distortion::Mse { lambda: weight },
                    LossKind::MsSsim => Distortion::MsSsim { alpha: weight },
                };
                cfg.loss.gmm_beta = gmm_beta;
                if let Some(s) = steps {
                    cfg.steps = s;
                }
                cfg.batch_size = batch_size;
                cfg.crop = crop;
                cfg.lr = lr;
                cfg.lr_quantizer = lr_quantizer;
                cfg.lr_milestones = milestones;
                cfg.lr_gamma = lr_gamma;
                cfg.grad_clip = grad_clip;
                cfg.quality = quality;
                cfg.seed = seed;
                cfg.checkpoint_secs = checkpoint_secs;
                cfg.log_every = log_every;
                cfg.workers = workers;
                Some(cfg)
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
            };
            let device = Default::default();
            let summary = train::<Autodiff<TrainBackend>>(cfg, steps, &opts, &stop, &device)
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
        Command::Export {
            run,
            output,
            precision,
            quality,
        } => {
            let device = Default::default();
            let (model, cfg, state) =
                load_trained::<Cpu>(&run, &device).map_err(|e| e.to_string())?;
            let precision = match precision {
                Precision::F16 => WeightPrecision::F16,
                Precision::F32 => WeightPrecision::F32,
            };
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
            let codec = CodecModel::<Cpu>::load(&bytes, &Default::default())
                .map_err(|e| format!("{}: {e}", model.display()))?;
            let cut = codec
                .decoder_only_file()
                .and_then(|f| Ok(f.to_bytes()?))
                .map_err(|e| format!("{}: {e}", model.display()))?;
            std::fs::write(&output, &cut).map_err(|e| format!("{}: {e}", output.display()))?;
            println!(
                "{}: decoder-only {} ({} of {} bytes)",
                output.display(),
                codec.id_string(),
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
            let report = eval::evaluate(&codec, &files, true).map_err(|e| e.to_string())?;
            let json = output.with_extension("json");
            let csv = output.with_extension("csv");
            eval::write_report(&report, &json, &csv).map_err(|e| e.to_string())?;
            println!("{}", eval::summary(&report));
            println!("wrote {} and {}", json.display(), csv.display());
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
