//! cvq — a learned image codec.
//!
//! Encode 8-bit RGB images into `.cvq` files and decode them again with the models
//! embedded in this crate (an MSE-trained ladder of rate points, `quality` 1–5, and
//! MS-SSIM-trained models at `quality` 1–4 chosen with [`Options::tune`]; see the repository's
//! `models/README.md` for how they were trained and what they measure). Everything runs
//! on the CPU (Burn's Flex backend). The `cvq` command-line tool (feature `cli`, on by
//! default) is a thin layer over this library: `cargo install --path cvq`.
//!
//! ```
//! # fn main() -> Result<(), cvq::Error> {
//! // Any 8-bit RGB image; `cvq::io::read_image` reads PNG, JPEG and WebP files
//! // (feature `image`), or build one from interleaved RGB bytes:
//! let (w, h) = (96, 64);
//! let rgb: Vec<u8> = (0..w * h)
//!     .flat_map(|i| [(i % w * 2) as u8, (i / w * 3) as u8, 128])
//!     .collect();
//! let image = cvq::RgbImage::new(w, h, rgb)?;
//!
//! // Encode with the embedded model of rate point 3, decode: the model that made the
//! // file is found by the model hash in its header.
//! let bytes = cvq::encode(&image, 3)?;
//! let back = cvq::decode(&bytes)?;
//! assert_eq!((back.width, back.height), (w, h));
//! let m = cvq::compare(&image, &back);
//! println!("{} bytes, PSNR {:.2} dB", bytes.len(), m.psnr);
//!
//! // The best rate point whose file fits in 1,000 bytes:
//! let small = cvq::encode_with(&image, &cvq::Options::default().with_max_bytes(1_000))?;
//! assert!(small.bytes.len() <= 1_000);
//! println!("quality {} fits ({} bytes)", small.quality, small.bytes.len());
//!
//! // A size no rate point reaches is a typed error, not a panic:
//! let tiny = cvq::Options::default().with_max_bytes(10);
//! assert!(matches!(cvq::encode_with(&image, &tiny), Err(cvq::Error::TooLarge { .. })));
//! # Ok(())
//! # }
//! ```
//!
//! For many images, load a [`Model`] once and put it in the [`Options`] (or call
//! [`Model::encode`] / [`Model::decode`]); model files made by `cvq-train export` load
//! with [`Model::open`]. Malformed, truncated or hostile input gives an [`Error`]; the
//! container's [`Limits`] bound what a file may claim before anything is allocated.
//!
//! Features: `cli` (default; the `cvq` binary, with clap), `image` (the [`io`] module:
//! PNG / JPEG / WebP files).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod embedded;
mod error;
#[cfg(feature = "image")]
pub mod io;
mod model;
mod options;
mod tune;

pub use cvq_bitstream::format::Limits;
pub use cvq_core::codec::{CodecError, RgbImage};
pub use cvq_entropy::ModelFamily;
pub use error::{Error, InvalidOptions};
pub use model::{
    Cpu, DEFAULT_QUALITY, DEFAULT_TILE, Decoded, Encoded, IterationRoundTrip, Model,
    ProgressiveRoundTrip, TILE_ABOVE_PIXELS, load_model, qualities, qualities_for, tile_for,
};
pub use options::{Options, Progress};
pub use tune::{Tune, UnknownTune};

use std::sync::Arc;

use cvq_core::metrics::{ms_ssim_rgb8, psnr_rgb8};

/// Encodes `image` with the embedded model of rate point `quality` (see
/// [`qualities`]; higher is better and larger) and returns the `.cvq` file.
///
/// # Errors
///
/// [`InvalidOptions::NoSuchQuality`] for an unknown rate point, [`Error::Codec`] for an
/// image beyond the format's limits.
pub fn encode(image: &RgbImage, quality: u8) -> Result<Vec<u8>, Error> {
    Ok(encode_with(image, &Options::default().with_quality(quality))?.bytes)
}

/// Encodes `image` as `options` say: model, rate point, size target (the best rate point
/// whose file fits), limits. See [`Options`].
///
/// # Errors
///
/// [`Error::Options`] for invalid options, [`Error::TooLarge`] when no allowed rate point
/// fits the size target, [`Error::Codec`] for an image beyond the limits or a
/// decoder-only model.
pub fn encode_with(image: &RgbImage, options: &Options) -> Result<Encoded, Error> {
    options.encode(image)
}

/// Decodes a complete `.cvq` file with the embedded model that made it (named by its
/// header's model hash).
///
/// # Errors
///
/// [`Error::Codec`] for malformed, truncated or corrupt files,
/// [`Error::ModelNotEmbedded`] for files of other models (use [`decode_with`] and
/// [`Options::model`]).
pub fn decode(cvq: &[u8]) -> Result<RgbImage, Error> {
    Ok(decode_with(cvq, &Options::default())?.image)
}

/// Decodes with [`Options::model`] (default: the embedded model named in the file) under
/// [`Options::limits`]; with [`Options::partial`], a truncated file gives a preview.
///
/// # Errors
///
/// As [`decode`]; [`Error::Codec`] when the file was made by another model than
/// [`Options::model`].
pub fn decode_with(cvq: &[u8], options: &Options) -> Result<Decoded, Error> {
    let model = match &options.model {
        Some(m) => Arc::clone(m),
        None => Arc::new(Model::for_file(cvq)?),
    };
    let progress = options.progress.as_ref();
    model.decode_reporting(
        cvq,
        &options.limits,
        options.partial,
        options.tile,
        progress,
    )
}

/// Quality of a reconstruction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// PSNR over 8-bit RGB in dB (infinite for identical images; NaN when the sizes
    /// differ).
    pub psnr: f64,
    /// MS-SSIM (`None` when a side is below 161 pixels or the sizes differ).
    pub ms_ssim: Option<f64>,
}

/// PSNR and MS-SSIM of `distorted` against `reference` (the evaluation metrics of this
/// project, matching `pytorch_msssim`).
pub fn compare(reference: &RgbImage, distorted: &RgbImage) -> Metrics {
    let (w, h) = (reference.width, reference.height);
    if (distorted.width, distorted.height) != (w, h) {
        return Metrics {
            psnr: f64::NAN,
            ms_ssim: None,
        };
    }
    Metrics {
        psnr: psnr_rgb8(&reference.data, &distorted.data, w, h).unwrap_or(f64::NAN),
        ms_ssim: ms_ssim_rgb8(&reference.data, &distorted.data, w, h).ok(),
    }
}
