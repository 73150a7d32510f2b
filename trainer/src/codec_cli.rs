//! The `cvq encode`, `cvq decode` and `cvq info FILE.cvq` commands (the binary only
//! parses arguments). CPU backend (Flex).

use std::path::Path;
use std::time::{Duration, Instant};

use burn::backend::Flex;
use cvq_core::codec::{CodecError, CodecModel, RgbImage};
use cvq_core::metrics::{ms_ssim_rgb8, psnr_rgb8};
use cvq_bitstream::format::{Limits, read_file, read_prefix};
use cvq_entropy::ModelFile;
use indicatif::{ProgressBar, ProgressStyle};

/// The CPU backend of the command-line tools.
pub type Cpu = Flex;

/// Errors of the codec commands, printed as `cvq: error: …`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The input image cannot be decoded or the output image not written.
    #[error("{path}: {message}")]
    Image {
        /// The file.
        path: String,
        /// Cause.
        message: String,
    },
    /// Encoding / decoding failed.
    #[error("{path}: {source}")]
    Codec {
        /// The file.
        path: String,
        /// Cause.
        source: cvq_core::codec::CodecError,
    },
    /// No model was given and none is embedded.
    #[error("no model is embedded in this build; pass --model FILE.cvqm")]
    NoDefaultModel,
    /// A request the model cannot serve.
    #[error("{0}")]
    Usage(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A model file compiled into the binaries.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedModel {
    /// The model's rate point (`--quality`).
    pub quality: u8,
    /// The `.cvqm` bytes.
    pub bytes: &'static [u8],
}

/// The models embedded in this build (one per rate point; see `models/README.md`).
pub fn embedded_models() -> &'static [EmbeddedModel] {
    crate::embedded::MODELS
}

/// The rate point used when `--quality` is not given.
pub fn default_quality() -> Option<u8> {
    crate::embedded::DEFAULT_QUALITY
}

fn load_bytes(bytes: &[u8], name: String) -> Result<CodecModel<Cpu>, CliError> {
    CodecModel::<Cpu>::load(bytes, &Default::default())
        .map_err(|source| CliError::Codec { path: name, source })
}

/// Loads `--model FILE` or the embedded model of rate point `quality` (default: the
/// build's default quality); a model file must provide `quality` if it is given.
///
/// # Errors
///
/// I/O, model-file, or quality errors.
pub fn load_model(path: Option<&Path>, quality: Option<u8>) -> Result<CodecModel<Cpu>, CliError> {
    let model = match path {
        Some(p) => load_bytes(
            &std::fs::read(p).map_err(io_err(p))?,
            p.display().to_string(),
        )?,
        None => {
            let q = quality
                .or_else(default_quality)
                .ok_or(CliError::NoDefaultModel)?;
            let found = embedded_models()
                .iter()
                .find(|m| m.quality == q)
                .ok_or_else(|| {
                    let have: Vec<String> = embedded_models()
                        .iter()
                        .map(|m| m.quality.to_string())
                        .collect();
                    CliError::Usage(format!(
                        "no embedded model for quality {q} (available: {})",
                        have.join(", ")
                    ))
                })?;
            return load_bytes(found.bytes, format!("<embedded quality {q}>"));
        }
    };
    if let Some(q) = quality
        && q != model.quality
    {
        return Err(CliError::Usage(format!(
            "model {} encodes at quality {} only (asked for {q})",
            model.id_string(),
            model.quality
        )));
    }
    Ok(model)
}

/// The model that decodes `cvq_bytes`: `--model FILE`, else the embedded model whose
/// name and hash the file's header names.
///
/// # Errors
///
/// I/O, container or model errors; no embedded model made the file.
pub fn load_model_for(
    path: Option<&Path>,
    cvq_bytes: &[u8],
    file: &Path,
) -> Result<CodecModel<Cpu>, CliError> {
    if path.is_some() {
        return load_model(path, None);
    }
    let header = read_prefix(cvq_bytes, &Limits::default())
        .map_err(|e| CliError::Codec {
            path: file.display().to_string(),
            source: cvq_core::codec::CodecError::Format(e),
        })?
        .header;
    if embedded_models().is_empty() {
        return Err(CliError::NoDefaultModel);
    }
    // Compare name and hash from the model files first: only the matching model's
    // weights are deserialised.
    for m in embedded_models() {
        let name = format!("<embedded quality {}>", m.quality);
        let codec_err = |source: CodecError| CliError::Codec {
            path: name.clone(),
            source,
        };
        let file = ModelFile::from_bytes(m.bytes).map_err(|e| codec_err(e.into()))?;
        if file.name == header.model.name
            && file.hash().map_err(|e| codec_err(e.into()))? == header.model.hash
        {
            return CodecModel::<Cpu>::from_model_file(&file, &Default::default())
                .map_err(codec_err);
        }
    }
    let hash: String = header
        .model
        .hash
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Err(CliError::Usage(format!(
        "{}: made with model {}#{hash}, which is not embedded in this build; pass --model FILE.cvqm",
        file.display(),
        header.model.name
    )))
}

fn spinner(msg: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("template"));
    pb.enable_steady_tick(Duration::from_millis(100));
    pb.set_message(msg.to_string());
    pb
}

/// Reads any image `image` can decode (PNG, JPEG, WebP) as 8-bit RGB.
///
/// # Errors
///
/// [`CliError::Image`].
pub fn read_image(path: &Path) -> Result<RgbImage, CliError> {
    let img = image::open(path)
        .map_err(|e| CliError::Image {
            path: path.display().to_string(),
            message: e.to_string(),
        })?
        .to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    RgbImage::new(w, h, img.into_raw()).map_err(|e| CliError::Image {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Writes an RGB image; the format follows the extension (png, jpg, webp).
///
/// # Errors
///
/// [`CliError::Image`].
pub fn write_image(path: &Path, image: &RgbImage) -> Result<(), CliError> {
    let err = |message: String| CliError::Image {
        path: path.display().to_string(),
        message,
    };
    let buf =
        image::RgbImage::from_raw(image.width as u32, image.height as u32, image.data.clone())
            .ok_or_else(|| err("buffer size".into()))?;
    buf.save(path).map_err(|e| err(e.to_string()))
}

/// Quality metrics of a reconstruction.
#[derive(Debug, Clone, Copy)]
pub struct Metrics {
    /// PSNR over 8-bit RGB (dB).
    pub psnr: f64,
    /// MS-SSIM (`None` when the image is smaller than 161 px on a side).
    pub ms_ssim: Option<f64>,
}

/// PSNR and MS-SSIM of `b` against `a`.
pub fn metrics(a: &RgbImage, b: &RgbImage) -> Metrics {
    Metrics {
        psnr: psnr_rgb8(&a.data, &b.data, a.width, a.height).unwrap_or(f64::NAN),
        ms_ssim: ms_ssim_rgb8(&a.data, &b.data, a.width, a.height).ok(),
    }
}

/// What `cvq encode` did.
#[derive(Debug, Clone)]
pub struct EncodeReport {
    /// File size in bytes.
    pub bytes: usize,
    /// Bits per pixel of the real file.
    pub bpp: f64,
    /// Bits per pixel estimated by the integer model (payload only).
    pub estimated_bpp: f64,
    /// Encode time (analysis + entropy coding).
    pub encode_time: Duration,
    /// Metrics of the decoded result, when asked for.
    pub metrics: Option<Metrics>,
}

/// `cvq encode`.
///
/// # Errors
///
/// I/O, image or codec errors.
pub fn encode(
    model: &CodecModel<Cpu>,
    input: &Path,
    output: &Path,
    with_metrics: bool,
) -> Result<EncodeReport, CliError> {
    let image = read_image(input)?;
    let pb = spinner("encoding");
    let start = Instant::now();
    let enc = model.encode(&image).map_err(|source| CliError::Codec {
        path: input.display().to_string(),
        source,
    })?;
    let encode_time = start.elapsed();
    std::fs::write(output, &enc.bytes).map_err(io_err(output))?;
    let metrics = if with_metrics {
        pb.set_message("decoding for metrics");
        let back = model.decode(&enc.bytes).map_err(|source| CliError::Codec {
            path: output.display().to_string(),
            source,
        })?;
        Some(metrics(&image, &back))
    } else {
        None
    };
    pb.finish_and_clear();
    let pixels = (image.width * image.height) as f64;
    Ok(EncodeReport {
        bytes: enc.bytes.len(),
        bpp: enc.bytes.len() as f64 * 8.0 / pixels,
        estimated_bpp: enc.estimated_bits / pixels,
        encode_time,
        metrics,
    })
}

/// What `cvq decode` did.
#[derive(Debug, Clone)]
pub struct DecodeReport {
    /// Image size.
    pub width: usize,
    /// Image size.
    pub height: usize,
    /// Entropy decoding time.
    pub entropy_time: Duration,
    /// Synthesis time.
    pub synthesis_time: Duration,
    /// Groups decoded from payloads (fewer than the total for a partial file).
    pub groups_received: usize,
    /// Groups in the file.
    pub groups: usize,
}

/// `cvq decode` (`partial`: accept a truncated file and decode a preview).
///
/// # Errors
///
/// I/O, codec or image errors.
pub fn decode(
    model: &CodecModel<Cpu>,
    input: &Path,
    output: &Path,
    partial: bool,
) -> Result<DecodeReport, CliError> {
    let bytes = std::fs::read(input).map_err(io_err(input))?;
    let codec_err = |source| CliError::Codec {
        path: input.display().to_string(),
        source,
    };
    let pb = spinner("decoding");
    let start = Instant::now();
    let symbols = model
        .decode_symbols(&bytes, &Limits::default(), partial)
        .map_err(codec_err)?;
    let entropy_time = start.elapsed();
    pb.set_message("synthesis");
    let start = Instant::now();
    let image = model.synthesize(&symbols).map_err(codec_err)?;
    let synthesis_time = start.elapsed();
    pb.finish_and_clear();
    write_image(output, &image)?;
    Ok(DecodeReport {
        width: image.width,
        height: image.height,
        entropy_time,
        synthesis_time,
        groups_received: symbols.groups_received,
        groups: symbols.header.groups.len(),
    })
}

/// `cvq info FILE.cvq`: the header and the bytes of every group (no model needed).
/// A truncated file is described as far as it goes.
///
/// # Errors
///
/// I/O or container errors.
pub fn file_info(path: &Path) -> Result<String, CliError> {
    use std::fmt::Write;
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let codec = |e| CliError::Codec {
        path: path.display().to_string(),
        source: cvq_core::codec::CodecError::Format(e),
    };
    let limits = Limits::default();
    let partial = read_prefix(&bytes, &limits).map_err(codec)?;
    let complete = read_file(&bytes, &limits).is_ok();
    let h = &partial.header;
    let pixels = f64::from(h.width) * f64::from(h.height);
    let hash: String = h.model.hash.iter().map(|b| format!("{b:02x}")).collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "file:        {} ({} bytes, {:.4} bpp){}",
        path.display(),
        bytes.len(),
        bytes.len() as f64 * 8.0 / pixels,
        if complete { "" } else { " — incomplete" }
    );
    let _ = writeln!(s, "image:       {} x {}", h.width, h.height);
    let (lh, lw) = h.latent_size();
    let _ = writeln!(s, "latent:      {} channels x {lh} x {lw}", h.channels());
    let _ = writeln!(s, "model:       {}#{hash}", h.model.name);
    let _ = writeln!(s, "quality:     {}", h.quality);
    let _ = writeln!(s, "entropy:     {:?}", h.entropy_model);
    let _ = writeln!(
        s,
        "permutation: {}",
        if h.permutation.is_identity() {
            "identity"
        } else {
            "stored"
        }
    );
    let _ = writeln!(s, "header:      {} bytes", partial.header_len);
    let _ = writeln!(s, "group  levels  channels  bytes  bpp     received");
    for (i, (g, p)) in h.groups.iter().zip(&partial.payload_info).enumerate() {
        let _ = writeln!(
            s,
            "{i:<6} {:<7} {:<9} {:<6} {:<7.4} {}",
            g.levels,
            g.channels,
            p.len,
            p.len as f64 * 8.0 / pixels,
            if i < partial.complete_groups() {
                "yes"
            } else {
                "no"
            }
        );
    }
    Ok(s)
}
