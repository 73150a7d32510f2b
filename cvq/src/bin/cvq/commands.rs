//! `cvq encode`, `cvq decode` and `cvq info FILE.cvq` over the library: files in and
//! out, a spinner, and the file name in front of every error.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cvq::io::{read_image, write_image};
use cvq::{Decoded, Encoded, Error, Metrics, Model, Options};
use cvq_bitstream::format::{Limits, read_file, read_prefix};
use indicatif::{ProgressBar, ProgressStyle};

/// `path: error`, unless the error names its file already.
pub fn at(path: &Path) -> impl FnOnce(Error) -> String + '_ {
    move |e| match e {
        Error::Io { .. } | Error::Image { .. } | Error::ModelFile { .. } => e.to_string(),
        Error::ModelNotEmbedded { .. } => {
            format!("{}: {e}; pass --model FILE.cvqm", path.display())
        }
        _ => format!("{}: {e}", path.display()),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn spinner(msg: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("template"));
    pb.enable_steady_tick(Duration::from_millis(100));
    pb.set_message(msg.to_string());
    pb
}

/// `--model FILE`, loaded.
pub fn open_model(path: Option<&Path>) -> Result<Option<Arc<Model>>, String> {
    path.map(|p| Model::open(p).map(Arc::new).map_err(at(p)))
        .transpose()
}

/// What `cvq encode` did.
pub struct EncodeReport {
    /// The file written.
    pub encoded: Encoded,
    /// Pixels of the image.
    pub pixels: usize,
    /// Encode time (every rate point tried for a size target).
    pub encode_time: Duration,
    /// Metrics of the decoded result, when asked for.
    pub metrics: Option<Metrics>,
}

/// `cvq encode`.
pub fn encode(
    input: &Path,
    output: &Path,
    options: &Options,
    with_metrics: bool,
) -> Result<EncodeReport, String> {
    let image = read_image(input).map_err(at(input))?;
    let pb = spinner("encoding");
    let start = Instant::now();
    let encoded = cvq::encode_with(&image, options).map_err(at(input))?;
    let encode_time = start.elapsed();
    std::fs::write(output, &encoded.bytes).map_err(|e| format!("{}: {e}", output.display()))?;
    let metrics = if with_metrics {
        pb.set_message("decoding for metrics");
        let back = cvq::decode_with(&encoded.bytes, options).map_err(at(output))?;
        Some(cvq::compare(&image, &back.image))
    } else {
        None
    };
    pb.finish_and_clear();
    Ok(EncodeReport {
        pixels: image.width * image.height,
        encoded,
        encode_time,
        metrics,
    })
}

/// `cvq decode`.
pub fn decode(input: &Path, output: &Path, options: &Options) -> Result<Decoded, String> {
    let bytes = read(input)?;
    let pb = spinner("decoding");
    // A tiled decode (large photos) turns the spinner into a bar over its windows.
    let bar = pb.clone();
    let options = options
        .clone()
        .with_progress(cvq::Progress::new(move |done, total| {
            if bar.length() != Some(total as u64) {
                bar.set_style(
                    ProgressStyle::with_template(
                        "{msg} [{bar:30}] {pos}/{len} windows [{elapsed} < {eta}]",
                    )
                    .expect("template")
                    .progress_chars("=> "),
                );
                bar.set_length(total as u64);
            }
            bar.set_position(done as u64);
        }));
    let decoded = cvq::decode_with(&bytes, &options).map_err(at(input))?;
    pb.finish_and_clear();
    write_image(output, &decoded.image).map_err(at(output))?;
    Ok(decoded)
}

/// `cvq info FILE.cvq`: the header and the bytes of every group (no model needed).
/// A truncated file is described as far as it goes.
pub fn file_info(path: &Path) -> Result<String, String> {
    let bytes = read(path)?;
    if cvq_entropy::model_family(&bytes).is_some() {
        return model_info(path, &bytes);
    }
    let limits = Limits::default();
    let partial = read_prefix(&bytes, &limits).map_err(|e| format!("{}: {e}", path.display()))?;
    let complete = read_file(&bytes, &limits).is_ok();
    let h = &partial.header;
    let pixels = f64::from(h.width) * f64::from(h.height);
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
    let _ = writeln!(s, "model:       {}", h.model);
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
    if h.entropy_model.is_binary() {
        // The recurrent family: one group per iteration; a prefix of whole iterations
        // decodes.
        let _ = writeln!(
            s,
            "iteration  bits  bytes  raw bytes  bpp     bpp so far  received"
        );
        let mut so_far = partial.header_len;
        for (i, (g, p)) in h.groups.iter().zip(&partial.payload_info).enumerate() {
            so_far += p.len;
            let raw = (u64::from(g.channels) * u64::from(lh) * u64::from(lw)).div_ceil(8);
            let _ = writeln!(
                s,
                "{:<10} {:<5} {:<6} {:<10} {:<7.4} {:<11.4} {}",
                i + 1,
                g.channels,
                p.len,
                raw,
                p.len as f64 * 8.0 / pixels,
                so_far as f64 * 8.0 / pixels,
                if i < partial.complete_groups() {
                    "yes"
                } else {
                    "no"
                }
            );
        }
        return Ok(s);
    }
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

/// `cvq info MODEL.cvqm|.cvqd`: the model's name and hash, family, what it can do, its
/// qualities and its architecture (parameters and MACs per pixel).
fn model_info(path: &Path, bytes: &[u8]) -> Result<String, String> {
    let model = Model::from_bytes(bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut s = String::new();
    let _ = writeln!(s, "model file:  {} ({} bytes)", path.display(), bytes.len());
    let _ = writeln!(s, "model:       {}", model.id());
    let role = if model.can_encode() {
        "encoder + decoder"
    } else {
        "decoder only (cannot encode)"
    };
    let (family, what) = match model.family() {
        cvq::ModelFamily::Cvqn => ("CVQN", "quality"),
        cvq::ModelFamily::Recurrent => ("recurrent (progressive)", "iterations"),
    };
    let _ = writeln!(s, "family:      {family}, {role}");
    let qualities: Vec<String> = model.qualities().iter().map(u8::to_string).collect();
    let _ = writeln!(
        s,
        "{:<13}{} (default {})",
        format!("{what}:"),
        qualities.join(", "),
        model.quality()
    );
    if let Some(codec) = model.codec() {
        s += &crate::info::render_table(&codec.config);
    } else if let Some(rnn) = model.recurrent() {
        s += &crate::info::render_recurrent(&rnn.config, false);
    }
    Ok(s)
}
