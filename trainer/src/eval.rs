//! `cvq-train eval`: encode and decode every image of a folder with a model file and
//! report, per image and as the mean, the real bpp (file bytes), the bpp the integer
//! entropy model estimates, PSNR, MS-SSIM and the encode / decode times. Real and
//! estimated bpp are always separate columns.

use std::path::{Path, PathBuf};
use std::time::Instant;

use cvq::io::read_image;
use cvq::{Model, compare};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

/// Errors of `cvq-train eval`.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file or folder cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// An image cannot be read, or encoding / decoding it failed.
    #[error("{path}: {source}")]
    Codec {
        /// The image.
        path: String,
        /// Cause.
        source: cvq::Error,
    },
    /// The folder has no images.
    #[error("no images to evaluate")]
    NoImages,
    /// The CSV table cannot be written.
    #[error("{path}: {message}")]
    Csv {
        /// The file.
        path: String,
        /// Cause.
        message: String,
    },
}

/// Results for one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageResult {
    /// File name.
    pub image: String,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Size of the `.cvq` file (header included).
    pub bytes: usize,
    /// `8 · bytes / (width · height)`.
    pub bpp: f64,
    /// The integer entropy model's estimate of the payload, bits per pixel.
    pub estimated_bpp: f64,
    /// PSNR over 8-bit RGB (dB).
    pub psnr: f64,
    /// MS-SSIM (RGB mean; `None` below 161 px).
    pub ms_ssim: Option<f64>,
    /// Encode time (ms), image in memory → bytes.
    pub encode_ms: f64,
    /// Decode time (ms), bytes → RGB image.
    pub decode_ms: f64,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// `name#hash` of the model.
    pub model: String,
    /// The model's rate point.
    pub quality: u8,
    /// Per image.
    pub images: Vec<ImageResult>,
    /// Means over the images (`image` = "mean"; MS-SSIM over images that have it).
    pub mean: ImageResult,
}

/// Image files of a folder (PNG, JPEG, WebP), sorted by name.
///
/// # Errors
///
/// The folder cannot be read.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>, EvalError> {
    cvq::io::image_files(dir).map_err(|source| EvalError::Io {
        path: dir.display().to_string(),
        source,
    })
}

/// The file name of `path` (lossy UTF-8), as the reports name images.
fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// The progress bar over `files` (hidden without `progress`).
fn images_bar(files: &[PathBuf], progress: bool) -> Result<ProgressBar, EvalError> {
    if files.is_empty() {
        return Err(EvalError::NoImages);
    }
    if !progress {
        return Ok(ProgressBar::hidden());
    }
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} images [{elapsed} < {eta}] {msg}")
            .expect("template"),
    );
    Ok(bar)
}

/// Evaluates `model` at `quality` (one of its [`Model::qualities`]) on `files`.
///
/// # Errors
///
/// An image cannot be read, or encoding/decoding fails.
pub fn evaluate(
    model: &Model,
    quality: u8,
    files: &[PathBuf],
    progress: bool,
) -> Result<EvalReport, EvalError> {
    let bar = images_bar(files, progress)?;
    let mut images = Vec::with_capacity(files.len());
    for f in files {
        let name = file_name(f);
        bar.set_message(name.clone());
        let codec_err = |source| EvalError::Codec {
            path: f.display().to_string(),
            source,
        };
        let img = read_image(f).map_err(codec_err)?;
        let t = Instant::now();
        let enc = model.encode_at(&img, quality).map_err(codec_err)?;
        let encode_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let back = model.decode(&enc.bytes).map_err(codec_err)?;
        let decode_ms = t.elapsed().as_secs_f64() * 1e3;
        let m = compare(&img, &back);
        let px = (img.width * img.height) as f64;
        images.push(ImageResult {
            image: name,
            width: img.width,
            height: img.height,
            bytes: enc.bytes.len(),
            bpp: 8.0 * enc.bytes.len() as f64 / px,
            estimated_bpp: enc.estimated_bits / px,
            psnr: m.psnr,
            ms_ssim: m.ms_ssim,
            encode_ms,
            decode_ms,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(report(model.id(), quality, images))
}

/// The report of `images` (with their mean row).
fn report(model: String, quality: u8, images: Vec<ImageResult>) -> EvalReport {
    let n = images.len() as f64;
    let mean_of = |f: fn(&ImageResult) -> f64| images.iter().map(f).sum::<f64>() / n;
    let ms: Vec<f64> = images.iter().filter_map(|r| r.ms_ssim).collect();
    let mean = ImageResult {
        image: "mean".into(),
        width: 0,
        height: 0,
        bytes: (mean_of(|r| r.bytes as f64)).round() as usize,
        bpp: mean_of(|r| r.bpp),
        estimated_bpp: mean_of(|r| r.estimated_bpp),
        psnr: mean_of(|r| r.psnr),
        ms_ssim: (!ms.is_empty()).then(|| ms.iter().sum::<f64>() / ms.len() as f64),
        encode_ms: mean_of(|r| r.encode_ms),
        decode_ms: mean_of(|r| r.decode_ms),
    };
    EvalReport {
        model,
        quality,
        images,
        mean,
    }
}

/// Evaluates a recurrent model at every iteration count `1..=T` on `files`, one report
/// per count ([`Model::round_trip_iterations`]: each image is encoded once with all `T`
/// iterations, the file of `t` iterations is cut from it, byte-identical to a
/// `t`-iteration encode, and the decode paints every iteration in turn). The
/// `estimated_bpp` column is the payloads' real size (the adaptive binary model makes
/// no estimate). Times: `encode_ms` is that one `T`-iteration encode
/// (the same in every report), `decode_ms` the time from the start of decoding until the
/// image after `t` iterations is ready.
///
/// # Errors
///
/// An image cannot be read, or encoding/decoding fails.
pub fn evaluate_recurrent(
    model: &Model,
    files: &[PathBuf],
    progress: bool,
) -> Result<Vec<EvalReport>, EvalError> {
    let bar = images_bar(files, progress)?;
    let mut per_count: Vec<Vec<ImageResult>> = Vec::new();
    for f in files {
        let name = file_name(f);
        bar.set_message(name.clone());
        let codec_err = |source: cvq::Error| EvalError::Codec {
            path: f.display().to_string(),
            source,
        };
        let img = read_image(f).map_err(codec_err)?;
        let rt = model.round_trip_iterations(&img).map_err(codec_err)?;
        per_count.resize(rt.iterations.len(), Vec::new());
        let px = (img.width * img.height) as f64;
        for (k, it) in rt.iterations.iter().enumerate() {
            let m = compare(&img, &it.image);
            per_count[k].push(ImageResult {
                image: name.clone(),
                width: img.width,
                height: img.height,
                bytes: it.bytes.len(),
                bpp: 8.0 * it.bytes.len() as f64 / px,
                estimated_bpp: 8.0 * it.payload_bytes as f64 / px,
                psnr: m.psnr,
                ms_ssim: m.ms_ssim,
                encode_ms: rt.encode_time.as_secs_f64() * 1e3,
                decode_ms: it.decode_time.as_secs_f64() * 1e3,
            });
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(per_count
        .into_iter()
        .enumerate()
        .map(|(k, images)| report(model.id(), k as u8 + 1, images))
        .collect())
}

/// Writes `NAME.json` and `NAME.csv` (per-image rows then the mean row) for a report.
///
/// # Errors
///
/// The files cannot be written.
pub fn write_report(report: &EvalReport, json: &Path, csv_path: &Path) -> Result<(), EvalError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| EvalError::Io { path, source }
    };
    let csv_err = |e: csv::Error| EvalError::Csv {
        path: csv_path.display().to_string(),
        message: e.to_string(),
    };
    std::fs::write(
        json,
        serde_json::to_string_pretty(report).expect("report serialises"),
    )
    .map_err(io(json))?;
    let mut w = csv::Writer::from_path(csv_path).map_err(csv_err)?;
    for r in report.images.iter().chain(std::iter::once(&report.mean)) {
        w.serialize(r).map_err(csv_err)?;
    }
    w.flush().map_err(io(csv_path))
}

/// The mean row as a one-line summary.
pub fn summary(report: &EvalReport) -> String {
    let m = &report.mean;
    format!(
        "{} (quality {}), {} images: bpp {:.4} (estimated {:.4}), PSNR {:.2} dB, MS-SSIM {}, encode {:.0} ms, decode {:.0} ms",
        report.model,
        report.quality,
        report.images.len(),
        m.bpp,
        m.estimated_bpp,
        m.psnr,
        m.ms_ssim.map_or("n/a".into(), |v| format!("{v:.4}")),
        m.encode_ms,
        m.decode_ms
    )
}
