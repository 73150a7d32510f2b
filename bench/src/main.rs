//! `cvq-bench`: rate–distortion and speed of cvq against JPEG, WebP, AVIF, JPEG XL and
//! JPEG 2000 (the Debian command-line tools; `scripts/install-codecs.sh` installs them).
//! See the `cvq_bench` library.
//!
//! Exit status: 0 on success, 1 on errors (`cvq-bench: error: …`), 2 on bad usage.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use cvq::Tune;
use cvq_bench::{self as rd, BenchOptions, CodecChoice, report};

#[derive(Parser)]
#[command(
    name = "cvq-bench",
    version,
    about = "Rate-distortion and speed benchmark: cvq against JPEG, WebP, AVIF, JPEG XL, JPEG 2000"
)]
struct Cli {
    /// Image folder (PNG, JPEG, WebP; sorted by name).
    #[arg(long, default_value = "../shared/data/kodak")]
    data: PathBuf,
    /// Output prefix: PREFIX.csv, PREFIX.json, PREFIX-psnr.svg, PREFIX-msssim.svg.
    #[arg(long, default_value = "results/rd/rd")]
    out: PathBuf,
    /// Codecs to run, comma-separated subset of jpeg,webp,avif,jxl,j2k,cvq (default: all).
    #[arg(long, value_delimiter = ',')]
    codecs: Vec<String>,
    /// Only the first N images.
    #[arg(long)]
    images: Option<usize>,
    /// cvq model file (.cvqm), repeatable: a CVQN file replaces the embedded models in
    /// the cvq sweep; a recurrent file adds a `cvq-rnn` curve (one point per iteration
    /// count) beside them.
    #[arg(long = "cvq-model")]
    cvq_model: Vec<PathBuf>,
    /// Which embedded cvq models to sweep: psnr (the default ladder, q1…q5) or ms-ssim
    /// (the MS-SSIM-tuned models).
    #[arg(long, default_value = "psnr", value_parser = parse_tune, conflicts_with = "cvq_model")]
    tune: Tune,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn parse_tune(s: &str) -> Result<Tune, String> {
    s.parse::<Tune>().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cvq-bench: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let start = Instant::now();
    let codecs = cli
        .codecs
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.parse::<CodecChoice>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let opts = BenchOptions {
        data: cli.data,
        out: cli.out,
        codecs,
        images: cli.images,
        cvq_models: cli.cvq_model,
        tune: cli.tune,
        progress: !cli.quiet,
    };
    let results = rd::run(&opts).map_err(|e| e.to_string())?;
    for c in &results.codecs {
        if let Some(why) = &c.skipped {
            eprintln!("cvq-bench: skipped {}: {why}", c.name);
        }
    }
    for f in &results.failures {
        eprintln!(
            "cvq-bench: failed: {} {}: {}",
            f.image,
            f.run.as_deref().unwrap_or("(reading)"),
            f.message
        );
    }
    let analysis = report::analyse(&results);
    let files = report::write_all(&results, &analysis, &opts.out).map_err(|e| e.to_string())?;
    println!(
        "{} images from {}\n",
        results.images.len(),
        results.data.display()
    );
    println!("Mean over images:\n\n{}", report::mean_table(&analysis));
    if !analysis.bd_rate.is_empty() {
        println!(
            "BD-rate of cvq against each codec (negative: cvq needs fewer bits at equal quality):\n\n{}",
            report::bd_table(&analysis)
        );
    }
    println!(
        "Speed (mean per image over all settings):\n\n{}",
        report::speed_table(&analysis)
    );
    println!(
        "Wrote {}, {}, {}, {} in {:.0} s",
        files.csv.display(),
        files.json.display(),
        files.psnr_svg.display(),
        files.ms_ssim_svg.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
