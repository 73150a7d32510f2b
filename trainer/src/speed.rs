//! `cvq-train speed`: encode and decode times of one image on the backend the binary was
//! built for (CPU, CUDA or WGPU), split into entropy coding (integer, on the host) and
//! synthesis (the float decoder, on the device, synchronised by its read-back).

use std::time::Instant;

use burn::tensor::backend::Backend;
use cvq::Limits;
use cvq_core::codec::{CodecError, CodecModel, RgbImage, pixels_to_image};
use serde::Serialize;

/// Median times of `runs` repetitions (milliseconds), after one untimed warm-up run.
#[derive(Debug, Clone, Serialize)]
pub struct SpeedReport {
    /// Model `name#hash`.
    pub model: String,
    /// Quality encoded at.
    pub quality: u8,
    /// Image size.
    pub width: usize,
    /// Image size.
    pub height: usize,
    /// File size of the encoded image.
    pub bytes: usize,
    /// Timed repetitions.
    pub runs: usize,
    /// Whole encode (analysis on the device, entropy coding on the host).
    pub encode_ms: f64,
    /// Entropy decoding (host, integer).
    pub entropy_ms: f64,
    /// Synthesis including the read-back of the pixels.
    pub synthesis_ms: f64,
    /// `entropy_ms + synthesis_ms`.
    pub decode_ms: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `model` on `image` at `quality`.
///
/// # Errors
///
/// Codec errors.
pub fn measure<B: Backend>(
    model: &CodecModel<B>,
    image: &RgbImage,
    quality: u8,
    runs: usize,
) -> Result<SpeedReport, CodecError> {
    let runs = runs.max(1);
    let (mut enc_t, mut ent_t, mut syn_t) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = 0;
    for run in 0..=runs {
        let t = Instant::now();
        let enc = model.encode_at(image, quality)?;
        let encode = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let decoded = model.decode_symbols(&enc.bytes, &Limits::default(), false)?;
        let entropy = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let out = pixels_to_image(
            &decoded.header,
            model.synthesis_tensor(&decoded).into_data(),
        )?;
        let synthesis = t.elapsed().as_secs_f64() * 1e3;
        if (out.width, out.height) != (image.width, image.height) {
            return Err(CodecError::BadImage("decoded size differs".into()));
        }
        if run > 0 {
            enc_t.push(encode);
            ent_t.push(entropy);
            syn_t.push(synthesis);
        }
        bytes = enc.bytes.len();
    }
    let (entropy_ms, synthesis_ms) = (median(ent_t), median(syn_t));
    Ok(SpeedReport {
        model: model.id_string(),
        quality,
        width: image.width,
        height: image.height,
        bytes,
        runs,
        encode_ms: median(enc_t),
        entropy_ms,
        synthesis_ms,
        decode_ms: entropy_ms + synthesis_ms,
    })
}
