//! `cvq-bench`: rate–distortion and speed of cvq against the classical codecs (the
//! library behind the `cvq-bench` binary).
//!
//! On a folder of images, every cvq model (the embedded ones, or `--cvq-model` files) and
//! every setting of each classical codec found on `PATH` ([`codecs::CLASSICAL`]) encodes
//! and decodes every image. Per image: bpp from the real file size, PSNR over 8-bit RGB,
//! MS-SSIM (`cvq::compare`, cvq-core's implementation, `None` below 161 px) and the encode / decode wall
//! times; then the means per codec setting, BD-rates of cvq against each codec
//! ([`bd_rate`]), a speed table, CSV + JSON ([`report`]) and two SVG plots ([`plot`]).
//!
//! Everything runs sequentially on one image at a time, so the times are not disturbed by
//! other work of the benchmark; one untimed round trip per codec on the first image comes
//! before the measured runs.

pub mod bd_rate;
pub mod codecs;
pub mod plot;
pub mod report;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use cvq::io::{image_files, read_image};
use cvq::{Model, RgbImage, Tune, compare, load_model, qualities_for};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use codecs::{Available, CLASSICAL, ImageFormat};

/// Errors that stop the benchmark (a failing tool or an unreadable image does not: they
/// are recorded in the report).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file or folder cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The image folder has no images.
    #[error("{0}: no images (PNG, JPEG, WebP)")]
    NoImages(String),
    /// `--codecs` names an unknown codec.
    #[error("unknown codec {0:?} (known: jpeg, webp, avif, jxl, j2k, cvq)")]
    UnknownCodec(String),
    /// None of the asked codecs can run.
    #[error("nothing to run: {0}")]
    NothingToRun(String),
    /// A cvq model cannot be loaded.
    #[error(transparent)]
    Model(#[from] cvq::Error),
    /// The CSV cannot be written.
    #[error("{path}: {message}")]
    Csv {
        /// The file.
        path: String,
        /// Cause.
        message: String,
    },
    /// A plot cannot be drawn.
    #[error("drawing {path}: {message}")]
    Draw {
        /// The file.
        path: String,
        /// Cause.
        message: String,
    },
}

/// A codec of `--codecs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecChoice {
    /// One of [`CLASSICAL`] by name.
    Classical(&'static str),
    /// cvq.
    Cvq,
}

impl FromStr for CodecChoice {
    type Err = BenchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        if s == "cvq" {
            return Ok(Self::Cvq);
        }
        CLASSICAL
            .iter()
            .find(|c| c.name == s)
            .map(|c| Self::Classical(c.name))
            .ok_or(BenchError::UnknownCodec(s))
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Image folder.
    pub data: PathBuf,
    /// Output prefix: `PREFIX.csv`, `PREFIX.json`, `PREFIX-psnr.svg`, `PREFIX-msssim.svg`.
    pub out: PathBuf,
    /// Codecs to run (all when empty).
    pub codecs: Vec<CodecChoice>,
    /// Only the first N images (sorted by name).
    pub images: Option<usize>,
    /// cvq model files; when empty, the embedded models. CVQN files replace the
    /// embedded models; recurrent files (`cvq-rnn` rows, one per iteration count) are
    /// run beside them.
    pub cvq_models: Vec<PathBuf>,
    /// Which embedded ladder runs when `cvq_models` has no CVQN file: the PSNR-tuned
    /// models (settings `q1`…) or the MS-SSIM-tuned ones (`ms-ssim-q2`…).
    pub tune: Tune,
    /// Show a progress bar.
    pub progress: bool,
}

/// One cvq model of the sweep.
#[derive(Debug, Clone, Serialize)]
pub struct CvqModelInfo {
    /// Setting label (`q2`, or the file stem).
    pub setting: String,
    /// `name#hash`.
    pub id: String,
    /// The model's rate point.
    pub quality: u8,
    /// Encoder multiply-accumulates per pixel.
    pub encoder_macs_per_pixel: f64,
    /// Synthesis (decoder network) MACs per pixel.
    pub decoder_macs_per_pixel: f64,
    /// Entropy model MACs per pixel (run by both encoder and decoder).
    pub entropy_macs_per_pixel: f64,
}

/// A codec's availability.
#[derive(Debug, Clone, Serialize)]
pub struct CodecInfo {
    /// Short name.
    pub name: String,
    /// Description (tools and their options).
    pub label: String,
    /// Tool version line (classical codecs).
    pub version: Option<String>,
    /// Setting labels, from the lowest rate to the highest.
    pub settings: Vec<String>,
    /// Why it was skipped (`None`: it ran).
    pub skipped: Option<String>,
}

/// One row of results: one image, or the mean over images (`image` = `"mean"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Codec name.
    pub codec: String,
    /// Setting label (`q=20`, `d=3.5`, `q2`, …).
    pub setting: String,
    /// Image file name, or `mean`.
    pub image: String,
    /// Images in this row (1, or the count behind a mean).
    pub n_images: usize,
    /// Width (0 for means).
    pub width: usize,
    /// Height (0 for means).
    pub height: usize,
    /// Compressed file size (rounded mean for means).
    pub bytes: u64,
    /// `8 · bytes / pixels`.
    pub bpp: f64,
    /// PSNR over 8-bit RGB (dB).
    pub psnr: f64,
    /// MS-SSIM (`None` below 161 px).
    pub ms_ssim: Option<f64>,
    /// `−10 · log10(1 − MS-SSIM)`; for means, of the mean MS-SSIM.
    pub ms_ssim_db: Option<f64>,
    /// Encode wall time (ms).
    pub encode_ms: f64,
    /// Decode wall time (ms).
    pub decode_ms: f64,
}

/// An image that was skipped, or a codec run that failed.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Image file name.
    pub image: String,
    /// Codec and setting (`None`: the image itself).
    pub run: Option<String>,
    /// Cause.
    pub message: String,
}

/// Everything measured.
#[derive(Debug, Clone)]
pub struct BenchResults {
    /// The image folder.
    pub data: PathBuf,
    /// Images measured (file names).
    pub images: Vec<String>,
    /// Every codec asked for, run or skipped (report order).
    pub codecs: Vec<CodecInfo>,
    /// The cvq models (empty if cvq did not run).
    pub cvq_models: Vec<CvqModelInfo>,
    /// Per-image rows (codec, setting, image order).
    pub rows: Vec<Row>,
    /// Skipped images and failed runs.
    pub failures: Vec<Failure>,
}

/// `−10 · log10(1 − MS-SSIM)`; `None` for MS-SSIM ≥ 1.
pub fn ms_ssim_db(ms_ssim: f64) -> Option<f64> {
    (ms_ssim < 1.0).then(|| -10.0 * (1.0 - ms_ssim).log10())
}

enum Runner {
    Classical(Box<Available>),
    Cvq(Vec<(CvqModelInfo, Model)>),
    /// A recurrent model: one setting per iteration count, all from one encode and one
    /// progressive decode per image (codec name `cvq-rnn`).
    CvqRecurrent(Vec<CvqModelInfo>, Box<Model>),
}

/// Codec name of the recurrent family's rows.
pub const CVQ_RNN: &str = "cvq-rnn";

impl Runner {
    fn settings(&self) -> Vec<String> {
        match self {
            Self::Classical(a) => a
                .codec
                .settings
                .iter()
                .map(|&v| format!("{}={}", a.codec.knob, codecs::format_param(v)))
                .collect(),
            Self::Cvq(m) => m.iter().map(|(i, _)| i.setting.clone()).collect(),
            Self::CvqRecurrent(infos, _) => infos.iter().map(|i| i.setting.clone()).collect(),
        }
    }
}

fn cvq_info(setting: String, model: &Model, quality: u8) -> CvqModelInfo {
    let [encoder, decoder, entropy] = model.macs_per_pixel(quality);
    CvqModelInfo {
        setting,
        id: model.id(),
        quality,
        encoder_macs_per_pixel: encoder,
        decoder_macs_per_pixel: decoder,
        entropy_macs_per_pixel: entropy,
    }
}

fn load_cvq(files: &[PathBuf], tune: Tune) -> Result<Vec<(CvqModelInfo, Model)>, BenchError> {
    let mut out = Vec::new();
    if files.is_empty() {
        for q in qualities_for(tune) {
            let model = Model::embedded_tuned(q, tune)?;
            let setting = match tune {
                Tune::Psnr => format!("q{q}"),
                _ => format!("{}-q{q}", tune.name()),
            };
            out.push((cvq_info(setting, &model, q), model));
        }
    } else {
        for f in files {
            let model = load_model(Some(f), None)?;
            let stem = f
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let q = model.quality();
            out.push((cvq_info(stem, &model, q), model));
        }
    }
    // lowest rate point first
    out.sort_by_key(|(i, _)| i.quality);
    Ok(out)
}

/// The images of `dir` (sorted), the first `limit` of them.
///
/// # Errors
///
/// The folder cannot be read or has no images.
pub fn list_images(dir: &Path, limit: Option<usize>) -> Result<Vec<PathBuf>, BenchError> {
    let mut files = image_files(dir).map_err(|source| BenchError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    if let Some(n) = limit {
        files.truncate(n);
    }
    if files.is_empty() {
        return Err(BenchError::NoImages(dir.display().to_string()));
    }
    Ok(files)
}

/// Runs the benchmark (no files are written; see [`report::write_all`]).
///
/// # Errors
///
/// No images, an unknown codec, nothing runnable, or a cvq model that cannot be loaded.
pub fn run(opts: &BenchOptions) -> Result<BenchResults, BenchError> {
    let files = list_images(&opts.data, opts.images)?;
    let wanted = |c: &CodecChoice| opts.codecs.is_empty() || opts.codecs.contains(c);
    let mut infos = Vec::new();
    let mut runners = Vec::new();
    for c in CLASSICAL.iter() {
        if !wanted(&CodecChoice::Classical(c.name)) {
            continue;
        }
        let mut info = CodecInfo {
            name: c.name.into(),
            label: c.label.into(),
            version: None,
            settings: c
                .settings
                .iter()
                .map(|&v| format!("{}={}", c.knob, codecs::format_param(v)))
                .collect(),
            skipped: None,
        };
        match codecs::locate(c) {
            Ok(a) => {
                info.version = codecs::tool_version(&a.encoder, c.version_args);
                runners.push(Runner::Classical(Box::new(a)));
            }
            Err(why) => info.skipped = Some(why),
        }
        infos.push(info);
    }
    let mut cvq_models = Vec::new();
    if wanted(&CodecChoice::Cvq) {
        let (recurrent, mut models): (Vec<_>, Vec<_>) = load_cvq(&opts.cvq_models, opts.tune)?
            .into_iter()
            .partition(|(_, m)| m.family() == cvq::ModelFamily::Recurrent);
        if models.is_empty() && !recurrent.is_empty() {
            // Only recurrent files given: their curves beside the embedded CVQN models.
            models = load_cvq(&[], opts.tune)?;
        }
        for (info, model) in recurrent {
            let counts: Vec<CvqModelInfo> = model
                .qualities()
                .into_iter()
                .map(|t| cvq_info(format!("{}-t{t}", info.setting), &model, t))
                .collect();
            infos.push(CodecInfo {
                name: CVQ_RNN.into(),
                label: format!(
                    "cvq recurrent {} (Flex CPU backend; encode time: all iterations, decode time: progressive, until that iteration)",
                    info.setting
                ),
                version: Some(env!("CARGO_PKG_VERSION").into()),
                settings: counts.iter().map(|i| i.setting.clone()).collect(),
                skipped: None,
            });
            cvq_models.extend(counts.iter().cloned());
            runners.push(Runner::CvqRecurrent(counts, Box::new(model)));
        }
        let mut info = CodecInfo {
            name: "cvq".into(),
            label: match (opts.tune, opts.cvq_models.is_empty()) {
                (Tune::Psnr, _) | (_, false) => "cvq (this repository, Flex CPU backend)".into(),
                (tune, true) => format!(
                    "cvq, {} models (this repository, Flex CPU backend)",
                    tune.name()
                ),
            },
            version: Some(env!("CARGO_PKG_VERSION").into()),
            settings: models.iter().map(|(i, _)| i.setting.clone()).collect(),
            skipped: None,
        };
        if models.is_empty() {
            info.skipped = Some("no model embedded and no --cvq-model given".into());
        } else {
            cvq_models.extend(models.iter().map(|(i, _)| i.clone()));
            runners.push(Runner::Cvq(models));
        }
        infos.push(info);
    }
    if runners.is_empty() {
        let why: Vec<String> = infos
            .iter()
            .map(|i| format!("{}: {}", i.name, i.skipped.clone().unwrap_or_default()))
            .collect();
        return Err(BenchError::NothingToRun(why.join("; ")));
    }

    let tmp = tempfile::Builder::new()
        .prefix("cvq-bench")
        .tempdir()
        .map_err(|source| BenchError::Io {
            path: std::env::temp_dir().display().to_string(),
            source,
        })?;
    let per_image: usize = runners.iter().map(|r| r.settings().len()).sum();
    let bar = if opts.progress {
        ProgressBar::new((per_image * files.len()) as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} runs [{elapsed} < {eta}] {msg}")
            .expect("template"),
    );
    let mut results: Vec<Vec<Row>> = vec![Vec::new(); runners.len()];
    let mut failures = Vec::new();
    let mut images = Vec::new();
    for f in &files {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let img = match read_image(f) {
            Ok(img) => img,
            Err(e) => {
                failures.push(Failure {
                    image: name,
                    run: None,
                    message: e.to_string(),
                });
                bar.inc(per_image as u64);
                continue;
            }
        };
        let mut inputs: Vec<(ImageFormat, Result<PathBuf, String>)> = Vec::new();
        if images.is_empty() {
            // One untimed round trip per codec first, so that no measured run pays for
            // loading the tools' shared libraries or the first Burn allocations.
            bar.set_message("warm-up");
            warm_up(&runners, &mut inputs, tmp.path(), &img);
        }
        images.push(name.clone());
        for (slot, runner) in results.iter_mut().zip(&runners) {
            let mut out = Vec::new();
            match runner {
                Runner::Classical(a) => {
                    let input = input_file(&mut inputs, tmp.path(), &img, a.codec.input);
                    for (&setting, label) in a.codec.settings.iter().zip(runner.settings()) {
                        bar.set_message(format!("{name} {} {label}", a.codec.name));
                        let r = input.clone().and_then(|p| {
                            a.round_trip(&p, setting, tmp.path())
                                .map_err(|e| e.to_string())
                        });
                        let r = r.and_then(|rt| {
                            row(
                                a.codec.name,
                                &label,
                                &name,
                                &img,
                                &rt.decoded,
                                rt.bytes,
                                rt.encode_ms,
                                rt.decode_ms,
                            )
                        });
                        match r {
                            Ok(row) => out.push(row),
                            Err(message) => failures.push(Failure {
                                image: name.clone(),
                                run: Some(format!("{} {label}", a.codec.name)),
                                message,
                            }),
                        }
                        bar.inc(1);
                    }
                }
                Runner::CvqRecurrent(counts, model) => {
                    bar.set_message(format!("{name} {CVQ_RNN}"));
                    match model.round_trip_iterations(&img) {
                        Ok(rt) => {
                            for (info, it) in counts.iter().zip(&rt.iterations) {
                                let r = row(
                                    CVQ_RNN,
                                    &info.setting,
                                    &name,
                                    &img,
                                    &it.image,
                                    it.bytes.len() as u64,
                                    rt.encode_time.as_secs_f64() * 1e3,
                                    it.decode_time.as_secs_f64() * 1e3,
                                );
                                match r {
                                    Ok(row) => out.push(row),
                                    Err(message) => failures.push(Failure {
                                        image: name.clone(),
                                        run: Some(format!("{CVQ_RNN} {}", info.setting)),
                                        message,
                                    }),
                                }
                            }
                        }
                        Err(e) => failures.push(Failure {
                            image: name.clone(),
                            run: Some(CVQ_RNN.into()),
                            message: e.to_string(),
                        }),
                    }
                    bar.inc(counts.len() as u64);
                }
                Runner::Cvq(models) => {
                    for (info, model) in models {
                        bar.set_message(format!("{name} cvq {}", info.setting));
                        let r = cvq_round_trip(model, &img)
                            .map_err(|e| e.to_string())
                            .and_then(|(bytes, back, e, d)| {
                                row("cvq", &info.setting, &name, &img, &back, bytes, e, d)
                            });
                        match r {
                            Ok(row) => out.push(row),
                            Err(message) => failures.push(Failure {
                                image: name.clone(),
                                run: Some(format!("cvq {}", info.setting)),
                                message,
                            }),
                        }
                        bar.inc(1);
                    }
                }
            }
            slot.extend(out);
        }
        for p in inputs.into_iter().filter_map(|(_, p)| p.ok()) {
            let _ = std::fs::remove_file(p);
        }
    }
    bar.finish_and_clear();
    drop(tmp);
    // codec, then setting, then image order
    let mut rows = Vec::new();
    for (runner, mut rs) in runners.iter().zip(results) {
        let order = runner.settings();
        rs.sort_by_key(|r| order.iter().position(|s| *s == r.setting));
        rows.extend(rs);
    }
    Ok(BenchResults {
        data: opts.data.clone(),
        images,
        codecs: infos,
        cvq_models,
        rows,
        failures,
    })
}

fn warm_up(
    runners: &[Runner],
    inputs: &mut Vec<(ImageFormat, Result<PathBuf, String>)>,
    dir: &Path,
    img: &RgbImage,
) {
    for runner in runners {
        match runner {
            Runner::Classical(a) => {
                if let (Ok(p), Some(&s)) = (
                    input_file(inputs, dir, img, a.codec.input),
                    a.codec.settings.first(),
                ) {
                    let _ = a.round_trip(&p, s, dir);
                }
            }
            Runner::Cvq(models) => {
                if let Some((_, m)) = models.first() {
                    let _ = cvq_round_trip(m, img);
                }
            }
            Runner::CvqRecurrent(_, m) => {
                let _ = m.round_trip_iterations(img);
            }
        }
    }
}

/// The image written once per format for the encoders that read files.
fn input_file(
    cache: &mut Vec<(ImageFormat, Result<PathBuf, String>)>,
    dir: &Path,
    img: &RgbImage,
    format: ImageFormat,
) -> Result<PathBuf, String> {
    if let Some((_, p)) = cache.iter().find(|(f, _)| *f == format) {
        return p.clone();
    }
    let path = dir.join(format!("input.{}", format.ext()));
    let r = codecs::write_rgb(&path, img, format)
        .map(|()| path.clone())
        .map_err(|e| format!("{}: {e}", path.display()));
    cache.push((format, r.clone()));
    r
}

fn cvq_round_trip(model: &Model, img: &RgbImage) -> Result<(u64, RgbImage, f64, f64), cvq::Error> {
    let t = Instant::now();
    let enc = model.encode(img)?;
    let encode_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let back = model.decode(&enc.bytes)?;
    let decode_ms = t.elapsed().as_secs_f64() * 1e3;
    Ok((enc.bytes.len() as u64, back, encode_ms, decode_ms))
}

#[allow(clippy::too_many_arguments)]
fn row(
    codec: &str,
    setting: &str,
    image: &str,
    original: &RgbImage,
    decoded: &RgbImage,
    bytes: u64,
    encode_ms: f64,
    decode_ms: f64,
) -> Result<Row, String> {
    if (decoded.width, decoded.height) != (original.width, original.height) {
        return Err(format!(
            "decoded image is {}x{}, expected {}x{}",
            decoded.width, decoded.height, original.width, original.height
        ));
    }
    let m = compare(original, decoded);
    let (psnr, ms_ssim) = (m.psnr, m.ms_ssim);
    Ok(Row {
        codec: codec.into(),
        setting: setting.into(),
        image: image.into(),
        n_images: 1,
        width: original.width,
        height: original.height,
        bytes,
        bpp: 8.0 * bytes as f64 / (original.width * original.height) as f64,
        psnr,
        ms_ssim,
        ms_ssim_db: ms_ssim.and_then(ms_ssim_db),
        encode_ms,
        decode_ms,
    })
}
