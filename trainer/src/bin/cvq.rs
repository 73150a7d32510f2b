//! `cvq`: the codec command-line tool (a thin layer over `codec-core`).
//!
//! Exit status: 0 on success, 1 on any error (message on stderr as `cvq: error: …`),
//! 2 on bad command-line usage.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cvq_core::config::CvqnConfig;
use cvq_train::codec_cli::{self, load_model};
use cvq_train::info;

#[derive(Parser)]
#[command(name = "cvq", version, about = "cvq learned image codec")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compress an image (PNG, JPEG, WebP) into a .cvq file.
    Encode {
        /// Input image.
        input: PathBuf,
        /// Output .cvq file.
        #[arg(short, long)]
        output: PathBuf,
        /// Model file (.cvqm); default: the model embedded in this build.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Rate point: selects the embedded model (default: the build's default), or
        /// must match the --model file's.
        #[arg(long)]
        quality: Option<u8>,
        /// Decode the result and print PSNR and MS-SSIM.
        #[arg(long)]
        metrics: bool,
    },
    /// Reconstruct an image from a .cvq file (PNG, JPEG or WebP by extension).
    Decode {
        /// Input .cvq file.
        input: PathBuf,
        /// Output image.
        #[arg(short, long)]
        output: PathBuf,
        /// Model file (.cvqm, or a decoder-only .cvqd); default: the embedded model that
        /// made the file.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Accept a truncated file and decode a preview from the groups present.
        #[arg(long)]
        partial: bool,
    },
    /// Describe a .cvq file (header, groups, bytes per group), or a model architecture
    /// (parameters and MACs per pixel) with --preset / --config.
    Info {
        /// A .cvq file.
        #[arg(conflicts_with_all = ["preset", "config"])]
        file: Option<PathBuf>,
        /// Preset name: paper, thesis, baseline, small, tiny.
        #[arg(long, conflicts_with = "config")]
        preset: Option<String>,
        /// A model config JSON file (as written by `--json`'s "config" field).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print JSON instead of a table (architecture only).
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cvq: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Encode {
            input,
            output,
            model,
            quality,
            metrics,
        } => {
            let model = load_model(model.as_deref(), quality).map_err(|e| e.to_string())?;
            let r =
                codec_cli::encode(&model, &input, &output, metrics).map_err(|e| e.to_string())?;
            println!(
                "Saved {} ({} bytes, {:.4} bpp; model estimate {:.4} bpp) with {} in {:.0} ms",
                output.display(),
                r.bytes,
                r.bpp,
                r.estimated_bpp,
                model.id_string(),
                ms(r.encode_time)
            );
            if let Some(m) = r.metrics {
                match m.ms_ssim {
                    Some(s) => println!("PSNR {:.3} dB, MS-SSIM {s:.5}", m.psnr),
                    None => println!("PSNR {:.3} dB (MS-SSIM needs ≥ 161 px per side)", m.psnr),
                }
            }
            Ok(())
        }
        Command::Decode {
            input,
            output,
            model,
            partial,
        } => {
            let bytes = std::fs::read(&input).map_err(|e| format!("{}: {e}", input.display()))?;
            let model = codec_cli::load_model_for(model.as_deref(), &bytes, &input)
                .map_err(|e| e.to_string())?;
            let r =
                codec_cli::decode(&model, &input, &output, partial).map_err(|e| e.to_string())?;
            println!(
                "Decoded {} to {} ({} x {}, groups {}/{}): entropy {:.1} ms, synthesis {:.1} ms",
                input.display(),
                output.display(),
                r.width,
                r.height,
                r.groups_received,
                r.groups,
                ms(r.entropy_time),
                ms(r.synthesis_time)
            );
            Ok(())
        }
        Command::Info {
            file: Some(file), ..
        } => {
            print!(
                "{}",
                codec_cli::file_info(&file).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Command::Info {
            file: None,
            preset,
            config,
            json,
        } => {
            let cfg = match (preset, config) {
                (_, Some(path)) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    serde_json::from_str::<CvqnConfig>(&text)
                        .map_err(|e| format!("{}: invalid config: {e}", path.display()))?
                }
                (Some(name), None) => info::preset_config(&name).map_err(|e| e.to_string())?,
                (None, None) => info::preset_config("small").map_err(|e| e.to_string())?,
            };
            cfg.validate().map_err(|e| e.to_string())?;
            if json {
                println!("{}", info::render_json(&cfg));
            } else {
                print!("{}", info::render_table(&cfg));
            }
            Ok(())
        }
    }
}
