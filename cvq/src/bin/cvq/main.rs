//! `cvq`: the codec command-line tool (a thin layer over the `cvq` library).
//!
//! Exit status: 0 on success, 1 on any error (message on stderr as `cvq: error: …`),
//! 2 on bad command-line usage.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cvq::Options;
use cvq_core::config::CvqnConfig;

mod commands;
mod info;

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
        /// Rate point: selects the embedded model (default: 3), or must match the --model
        /// file's. With --max-bytes / --target-bpp: the highest rate point tried.
        #[arg(long)]
        quality: Option<u8>,
        /// Which embedded models encode: psnr (default; trained on MSE) or ms-ssim
        /// (trained on α·(1 − MS-SSIM) + rate: MS-SSIM at the expense of PSNR; its own,
        /// shorter ladder of rate points). Not with --model.
        #[arg(
            long,
            value_name = "psnr|ms-ssim",
            default_value = "psnr",
            conflicts_with = "model"
        )]
        tune: cvq::Tune,
        /// Iterations to code with a recurrent --model (default: all of the model's;
        /// each adds one group of binary codes, bits/256 bpp before entropy coding). With
        /// --max-bytes / --target-bpp: the most tried; one encode is cut to the most
        /// whole iterations that fit.
        #[arg(long, conflicts_with = "quality", value_name = "N")]
        iterations: Option<u8>,
        /// Largest acceptable file size in bytes: the best rate point whose file fits.
        #[arg(long, value_name = "N")]
        max_bytes: Option<u64>,
        /// Largest acceptable bits per pixel: the best rate point whose file fits.
        #[arg(long, value_name = "X")]
        target_bpp: Option<f64>,
        /// Decode the result and print PSNR and MS-SSIM.
        #[arg(long)]
        metrics: bool,
        /// Encoder tile side in pixels, for models that can tile (memory is bounded by
        /// the tile; the file is the same; 0: the whole image at once). Default: 512-px
        /// tiles for images over 4 MP, else the whole image.
        #[arg(long)]
        tile: Option<u32>,
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
        /// Synthesis tile side in pixels (memory is bounded by the tile; 0: the whole
        /// image at once). Default: 512-px tiles for images over 4 MP, else the whole
        /// image.
        #[arg(long)]
        tile: Option<u32>,
    },
    /// Describe a .cvq file (header, groups, bytes per group), a model file (.cvqm /
    /// .cvqd: name, family, qualities, architecture), or a model architecture
    /// (parameters and MACs per pixel) with --preset / --config.
    Info {
        /// A .cvq file, or a model file (.cvqm, .cvqd).
        #[arg(conflicts_with_all = ["preset", "config"])]
        file: Option<PathBuf>,
        /// Preset name: paper, thesis, baseline, small, tiny; recurrent codec: rnn-seed,
        /// rnn-compact, rnn-tiny (MACs per pixel per iteration).
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
            tune,
            iterations,
            max_bytes,
            target_bpp,
            metrics,
            tile,
        } => {
            let model = commands::open_model(model.as_deref())?;
            let recurrent = model
                .as_ref()
                .is_some_and(|m| m.family() == cvq::ModelFamily::Recurrent);
            if iterations.is_some() && !recurrent {
                return Err(
                    "--iterations needs a recurrent model (--model FILE with magic CVQR); CVQN models take --quality"
                        .into(),
                );
            }
            let options = Options {
                model,
                quality: quality.or(iterations),
                tune,
                max_bytes,
                target_bpp,
                tile,
                ..Options::default()
            };
            let r = commands::encode(&input, &output, &options, metrics)?;
            let (bytes, pixels) = (r.encoded.bytes.len() as f64, r.pixels as f64);
            // The recurrent family's adaptive model makes no estimate: its payload size.
            let estimate = if recurrent {
                "payload"
            } else {
                "model estimate"
            };
            println!(
                "Saved {} ({} bytes, {:.4} bpp; {estimate} {:.4} bpp) with {} (quality {}) in {:.0} ms",
                output.display(),
                r.encoded.bytes.len(),
                bytes * 8.0 / pixels,
                r.encoded.estimated_bits / pixels,
                r.encoded.model,
                r.encoded.quality,
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
            tile,
        } => {
            let options = Options {
                model: commands::open_model(model.as_deref())?,
                partial,
                tile,
                ..Options::default()
            };
            let r = commands::decode(&input, &output, &options)?;
            println!(
                "Decoded {} to {} ({} x {}, groups {}/{}): entropy {:.1} ms, synthesis {:.1} ms ({} tiles)",
                input.display(),
                output.display(),
                r.image.width,
                r.image.height,
                r.groups_received,
                r.groups,
                ms(r.entropy_time),
                ms(r.synthesis_time),
                r.tiles
            );
            Ok(())
        }
        Command::Info {
            file: Some(file), ..
        } => {
            print!("{}", commands::file_info(&file)?);
            Ok(())
        }
        Command::Info {
            file: None,
            preset,
            config,
            json,
        } => {
            if let Some(name) = preset.as_deref().and_then(|p| p.strip_prefix("rnn-")) {
                let p: cvq_core::recurrent::config::RecurrentPreset = name.parse().map_err(
                    |e: cvq_core::recurrent::config::RecurrentConfigError| e.to_string(),
                )?;
                let cfg = cvq_core::recurrent::config::RecurrentConfig::preset(p);
                print!("{}", info::render_recurrent(&cfg, json));
                return Ok(());
            }
            let cfg = match (preset, config) {
                (_, Some(path)) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    let value: serde_json::Value = serde_json::from_str(&text)
                        .map_err(|e| format!("{}: invalid config: {e}", path.display()))?;
                    if value.get("cell").is_some() {
                        let cfg: cvq_core::recurrent::config::RecurrentConfig =
                            serde_json::from_value(value)
                                .map_err(|e| format!("{}: invalid config: {e}", path.display()))?;
                        cfg.validate().map_err(|e| e.to_string())?;
                        print!("{}", info::render_recurrent(&cfg, json));
                        return Ok(());
                    }
                    serde_json::from_value::<CvqnConfig>(value)
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
