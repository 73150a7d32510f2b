//! [`Options`]: which model, which rate point, size targets and limits.

use std::sync::Arc;

use cvq_bitstream::format::{FormatError, LimitKind, Limits};
use cvq_core::codec::{CodecError, RgbImage};

use crate::model::{DEFAULT_QUALITY, Model, no_such_quality, qualities_for};
use crate::{Encoded, Error, InvalidOptions, Tune};

/// How to encode (and decode). `Options::default()` encodes with the embedded model of
/// rate point [`DEFAULT_QUALITY`] and decodes with the embedded model named in the file.
///
/// ```
/// use cvq::Options;
///
/// // The best embedded rate point whose file is at most 0.1 bit per pixel:
/// let small = Options::default().with_target_bpp(0.1);
/// assert!(small.validate().is_ok());
/// // Rate points that do not exist are refused before any work is done:
/// assert!(Options::default().with_quality(9).validate().is_err());
/// ```
///
/// **Size targets.** With `max_bytes` and/or `target_bpp` (both: the smaller budget),
/// encoding tries the embedded rate points from the highest down — at most `quality`
/// when that is given — and keeps the first file that fits, i.e. the best quality that
/// fits. With a `model`, its rate points are tried the same way (a fixed-rate model has
/// one); a recurrent model is encoded once with its most iterations (at most `quality`)
/// and the file cut to the most whole iterations that fit
/// ([`Model::encode_each_iteration`]). When nothing fits the error is
/// [`Error::TooLarge`], which gives the smallest size reached.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The model to use; `None`: the embedded models (encoding picks one by `quality` or
    /// the size target, decoding the one named in the file).
    pub model: Option<Arc<Model>>,
    /// The rate point. Without a size target it selects the embedded model (default
    /// [`DEFAULT_QUALITY`]); with one it is the highest rate point tried. With a `model`
    /// it must be one of that model's rate points.
    pub quality: Option<u8>,
    /// Which embedded models encode: the PSNR-tuned ladder (default) or the MS-SSIM-tuned
    /// one ([`qualities_for`](crate::qualities_for) lists each one's rate points). Only
    /// without a `model`; decoding finds the model in the file either way.
    pub tune: Tune,
    /// Largest acceptable file size in bytes (encoding).
    pub max_bytes: Option<u64>,
    /// Largest acceptable bits per pixel, `8 · bytes / (width · height)` (encoding).
    pub target_bpp: Option<f64>,
    /// Image and container size limits: images larger than `max_width`, `max_height` or
    /// `max_pixels` are refused before encoding; files beyond any limit are refused
    /// before decoding.
    pub limits: Limits,
    /// Decoding: accept a truncated file and decode a preview from the groups present.
    pub partial: bool,
    /// Encoder and decoder tile side in pixels (`None`: [`tile_for`](crate::tile_for) the
    /// image — [`DEFAULT_TILE`](crate::DEFAULT_TILE) above
    /// [`TILE_ABOVE_PIXELS`](crate::TILE_ABOVE_PIXELS), else whole; `Some(0)`: the whole
    /// image at once). Used by models that can tile ([`Model::can_tile`]); the file and
    /// the pixels are the same.
    pub tile: Option<u32>,
    /// Told how far a tiled decode has come (a progress bar for large photos).
    pub progress: Option<Progress>,
}

/// A callback told how far a tiled decode has come: `(done, total)` windows over all the
/// passes of the synthesis (`cvq_core::tiling::synthesis_plan`), called on the decoding
/// thread after each window. Whole-image decodes do not call it.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let seen = Arc::new(AtomicUsize::new(0));
/// let counter = Arc::clone(&seen);
/// let options = cvq::Options::default().with_progress(cvq::Progress::new(move |done, _total| {
///     counter.store(done, Ordering::Relaxed);
/// }));
/// assert!(options.progress.is_some());
/// ```
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(usize, usize) + Send + Sync>);

impl Progress {
    /// Wraps `report(done, total)`.
    pub fn new(report: impl Fn(usize, usize) + Send + Sync + 'static) -> Self {
        Self(Arc::new(report))
    }

    /// Reports `done` of `total`.
    pub fn report(&self, done: usize, total: usize) {
        (self.0)(done, total);
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

impl Options {
    /// Uses `model` (see [`Options::model`]).
    #[must_use]
    pub fn with_model(mut self, model: Model) -> Self {
        self.model = Some(Arc::new(model));
        self
    }

    /// Sets [`Options::progress`].
    #[must_use]
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Sets [`Options::quality`].
    #[must_use]
    pub fn with_quality(mut self, quality: u8) -> Self {
        self.quality = Some(quality);
        self
    }

    /// Sets [`Options::tune`].
    #[must_use]
    pub fn with_tune(mut self, tune: Tune) -> Self {
        self.tune = tune;
        self
    }

    /// Sets [`Options::max_bytes`].
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = Some(max_bytes);
        self
    }

    /// Sets [`Options::target_bpp`].
    #[must_use]
    pub fn with_target_bpp(mut self, bpp: f64) -> Self {
        self.target_bpp = Some(bpp);
        self
    }

    /// Sets [`Options::limits`].
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Checks that the options can be served: the rate point exists (embedded models) or
    /// is the model's, and the size targets are positive.
    ///
    /// # Errors
    ///
    /// The first problem found.
    pub fn validate(&self) -> Result<(), InvalidOptions> {
        if self.max_bytes == Some(0) {
            return Err(InvalidOptions::ZeroMaxBytes);
        }
        if let Some(bpp) = self.target_bpp
            && !(bpp.is_finite() && bpp > 0.0)
        {
            return Err(InvalidOptions::BadTargetBpp(bpp));
        }
        let tune = self.tune;
        match (&self.model, self.quality) {
            (Some(_), _) if tune != Tune::Psnr => Err(InvalidOptions::TuneWithModel(tune)),
            (Some(m), Some(q)) if !m.qualities().contains(&q) => Err(m.quality_mismatch(q)),
            (None, Some(q)) if !qualities_for(tune).any(|have| have == q) => {
                Err(no_such_quality(q, tune))
            }
            _ => Ok(()),
        }
    }

    /// The size budget in bytes for an image of `pixels` pixels, if any target is set.
    pub fn budget(&self, pixels: u64) -> Option<u64> {
        // floor: a file of `budget` bytes is at most `target_bpp` bits per pixel
        let from_bpp = self
            .target_bpp
            .map(|bpp| (bpp * pixels as f64 / 8.0).floor() as u64);
        match (self.max_bytes, from_bpp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn check_size(&self, image: &RgbImage) -> Result<(), Error> {
        let l = &self.limits;
        let pixels = image.width as u64 * image.height as u64;
        for (limit, value, max) in [
            (LimitKind::Width, image.width as u64, u64::from(l.max_width)),
            (
                LimitKind::Height,
                image.height as u64,
                u64::from(l.max_height),
            ),
            (LimitKind::Pixels, pixels, l.max_pixels),
        ] {
            if value > max {
                let e = FormatError::LimitExceeded { limit, value, max };
                return Err(CodecError::from(e).into());
            }
        }
        Ok(())
    }

    /// Encodes `image` as these options say (see [`encode_with`](crate::encode_with)).
    pub(crate) fn encode(&self, image: &RgbImage) -> Result<Encoded, Error> {
        self.validate()?;
        self.check_size(image)?;
        let budget = self.budget(image.width as u64 * image.height as u64);
        let tile = self.tile;
        let Some(budget) = budget else {
            return match &self.model {
                Some(m) => m.encode_tiled(image, self.quality.unwrap_or(m.quality()), tile),
                None => {
                    let q = self.quality.unwrap_or(DEFAULT_QUALITY);
                    Model::embedded_tuned(q, self.tune)?.encode_tiled(image, q, tile)
                }
            };
        };
        let fits = |enc: &Encoded| enc.bytes.len() as u64 <= budget;
        let top = self.quality.unwrap_or(u8::MAX);
        if let Some(m) = self.model.as_ref().filter(|m| m.recurrent().is_some()) {
            let most = m.qualities().into_iter().filter(|&q| q <= top).max();
            let most = most.ok_or_else(|| m.quality_mismatch(top))?;
            let mut files = m.encode_each_iteration(image, most)?;
            // prefixes grow with the iterations: the first file is the smallest
            return match files.iter().rposition(fits) {
                Some(t) => Ok(files.swap_remove(t)),
                None => Err(too_large(budget, &files[0])),
            };
        }
        let candidates: Vec<u8> = match &self.model {
            Some(m) => m.qualities(),
            None => qualities_for(self.tune).collect(),
        };
        let mut smallest: Option<Encoded> = None;
        for q in candidates.into_iter().rev().filter(|&q| q <= top) {
            let enc = match &self.model {
                Some(m) => m.encode_tiled(image, q, tile)?,
                None => Model::embedded_tuned(q, self.tune)?.encode_tiled(image, q, tile)?,
            };
            if fits(&enc) {
                return Ok(enc);
            }
            if smallest
                .as_ref()
                .is_none_or(|s| enc.bytes.len() < s.bytes.len())
            {
                smallest = Some(enc);
            }
        }
        // validate() guarantees at least one rate point was tried
        let smallest = smallest.ok_or_else(|| no_such_quality(top, self.tune))?;
        Err(too_large(budget, &smallest))
    }
}

fn too_large(budget: u64, enc: &Encoded) -> Error {
    Error::TooLarge {
        budget,
        smallest: enc.bytes.len() as u64,
        quality: enc.quality,
    }
}
