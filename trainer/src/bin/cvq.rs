//! `cvq`: the codec command-line tool (a thin layer over `codec-core`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use codec_core::config::CvqnConfig;
use trainer::info;

#[derive(Parser)]
#[command(name = "cvq", version, about = "cvq learned image codec")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a model architecture: parameters and MACs per pixel of each sub-network.
    Info {
        /// Preset name: paper, thesis, baseline, small.
        #[arg(long, conflicts_with = "config")]
        preset: Option<String>,
        /// A model config JSON file (as written by `--json`'s "config" field).
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// Print JSON instead of a table.
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

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Info {
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
