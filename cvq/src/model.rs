//! [`Model`]: a frozen codec model on the CPU, embedded or loaded from a file.

use std::path::Path;
use std::time::{Duration, Instant};

use cvq_bitstream::format::{Limits, read_prefix};
use cvq_core::codec::{CodecError, CodecModel, RgbImage};
use cvq_core::loaded::LoadedModel;
use cvq_core::recurrent::codec::RecurrentCodecModel;
use cvq_entropy::{ModelFamily, model_identity};

use crate::embedded::MODELS;
use crate::{Error, InvalidOptions, Progress, Tune};

/// The backend the networks run on: Burn's Flex CPU backend (all cores).
pub type Cpu = burn::backend::Flex;

/// The rate point used when none is asked for.
pub const DEFAULT_QUALITY: u8 = 3;

/// The rate points of the embedded PSNR-tuned models (the default ladder), lowest rate
/// (smallest files) first.
pub fn qualities() -> impl DoubleEndedIterator<Item = u8> + Clone {
    qualities_for(Tune::Psnr)
}

/// The rate points of the embedded models tuned for `tune`, lowest rate first.
///
/// ```
/// // every build has the default rate point of the PSNR ladder; the other models depend
/// // on the crate's features (all of them by default)
/// assert!(cvq::qualities_for(cvq::Tune::Psnr).any(|q| q == cvq::DEFAULT_QUALITY));
/// ```
pub fn qualities_for(tune: Tune) -> impl DoubleEndedIterator<Item = u8> + Clone {
    MODELS
        .iter()
        .filter(move |m| m.tune == tune)
        .flat_map(|m| m.qualities.iter().copied())
}

pub(crate) fn no_such_quality(quality: u8, tune: Tune) -> InvalidOptions {
    let available: Vec<String> = qualities_for(tune).map(|q| q.to_string()).collect();
    let mut available = available.join(", ");
    let left_out = match tune {
        Tune::Psnr => (!cfg!(feature = "psnr-ladder")).then_some("psnr-ladder"),
        Tune::MsSsim => (!cfg!(feature = "ms-ssim-models")).then_some("ms-ssim-models"),
    };
    if let Some(feature) = left_out {
        if available.is_empty() {
            available.push_str("none");
        }
        available.push_str(&format!(
            "; this build was made without the cvq crate's `{feature}` feature"
        ));
    }
    InvalidOptions::NoSuchQuality {
        quality,
        tune,
        available,
    }
}

/// A frozen model ready to encode and decode on the CPU: one of the embedded models
/// ([`Model::embedded`]), a `.cvqm` file, or a decoder-only `.cvqd` file (decodes only).
///
/// Either codec family: CVQN, whose qualities are rate points, or the recurrent
/// progressive codec (a `CVQR` model file), whose quality is the number of iterations
/// coded (`1..=T`; each adds `bits/256` bpp before entropy coding).
///
/// Loading deserialises the weights (tens of milliseconds); keep a `Model` (in an
/// [`Options`](crate::Options), behind an `Arc`) to encode or decode many images.
#[derive(Debug)]
pub struct Model {
    family: LoadedModel<Cpu>,
}

/// Loads model-file bytes of either family.
fn load_family(bytes: &[u8]) -> Result<LoadedModel<Cpu>, CodecError> {
    Ok(LoadedModel::load(bytes, &Default::default())?.with_cpu_kernels(threads()))
}

/// The result of an encode.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The `.cvq` file.
    pub bytes: Vec<u8>,
    /// The rate point of the model that made it (iterations for a recurrent model).
    pub quality: u8,
    /// `name#hash` of that model (also written in the file's header).
    pub model: String,
    /// Payload bits the integer entropy model predicted (the file adds the header and the
    /// range coder's overhead). The recurrent family's adaptive binary model makes no
    /// prediction before coding: there it is the payloads' real bits.
    pub estimated_bits: f64,
}

/// The result of [`Model::decode_with`] / [`decode_with`](crate::decode_with).
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The reconstruction.
    pub image: RgbImage,
    /// Groups (iterations of a recurrent model) decoded from their payloads (fewer than
    /// `groups` for a partial file; CVQN guesses the rest, a recurrent model stops after
    /// the last received iteration).
    pub groups_received: usize,
    /// Groups in the file.
    pub groups: usize,
    /// Time spent entropy decoding (integer models).
    pub entropy_time: Duration,
    /// Time spent in the synthesis network.
    pub synthesis_time: Duration,
    /// Tiles the synthesis ran in (1: the whole image at once).
    pub tiles: usize,
}

/// Tile side, in pixels, of [`Model::decode_with`]'s tiled synthesis: 512 px tiles
/// plus the halo keep the decoder's activations near 100 MB whatever the photo's size
/// (a decoder with channel attention runs one extra pass over the tiles per attention
/// block to gather the whole image's means).
pub const DEFAULT_TILE: u32 = 512;

/// Images of more pixels than this are encoded and decoded in [`DEFAULT_TILE`] tiles
/// unless a tile size is asked for; smaller ones run whole, which is faster (no halo, no
/// extra passes) and needs at most about 400 MB at this size (12 MP whole: 1.19 GB).
pub const TILE_ABOVE_PIXELS: usize = 4_000_000;

/// The tile side for an image of `width × height`: `tile` when asked for (0: whole),
/// else [`DEFAULT_TILE`] above [`TILE_ABOVE_PIXELS`] and whole below.
pub fn tile_for(tile: Option<u32>, width: usize, height: usize) -> u32 {
    tile.unwrap_or(if width * height > TILE_ABOVE_PIXELS {
        DEFAULT_TILE
    } else {
        0
    })
}

impl Model {
    /// The embedded PSNR-tuned model that serves rate point `quality` (see
    /// [`qualities`]); encode at that rate point with [`Model::encode_at`].
    ///
    /// # Errors
    ///
    /// [`InvalidOptions::NoSuchQuality`], or a model that fails to load.
    pub fn embedded(quality: u8) -> Result<Self, Error> {
        Self::embedded_tuned(quality, Tune::Psnr)
    }

    /// The embedded model tuned for `tune` that serves rate point `quality` (see
    /// [`qualities_for`]).
    ///
    /// # Errors
    ///
    /// [`InvalidOptions::NoSuchQuality`], or a model that fails to load.
    pub fn embedded_tuned(quality: u8, tune: Tune) -> Result<Self, Error> {
        let m = MODELS
            .iter()
            .find(|m| m.tune == tune && m.qualities.contains(&quality))
            .ok_or_else(|| no_such_quality(quality, tune))?;
        Self::from_bytes(m.bytes)
    }

    /// Loads a model file's bytes (`.cvqm`, or a decoder-only `.cvqd`).
    ///
    /// # Errors
    ///
    /// [`Error::Codec`]: not a model file, bad digest, configuration or weights.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Ok(Self {
            family: load_family(bytes)?,
        })
    }

    /// Loads a model file (`.cvqm` or `.cvqd`).
    ///
    /// # Errors
    ///
    /// [`Error::Io`], or [`Error::ModelFile`] (as [`Model::from_bytes`]).
    pub fn open(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let family = load_family(&bytes).map_err(|source| Error::ModelFile {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self { family })
    }

    /// The embedded model that made `cvq` (a whole `.cvq` file or a prefix that holds
    /// its header), found by the model name and hash in the header. The embedded files
    /// are told apart by the identity each states ([`cvq_entropy::model_identity`]: a
    /// few header bytes and the stored digest), so only the one that matches is parsed,
    /// verified and deserialised.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] for bytes that are not a `.cvq` header,
    /// [`Error::ModelNotEmbedded`] when no embedded model made the file.
    pub fn for_file(cvq: &[u8]) -> Result<Self, Error> {
        let header = read_prefix(cvq, &Limits::default())
            .map_err(CodecError::from)?
            .header;
        for m in MODELS {
            // the identity each file states (header and stored digest, no weights);
            // loading the match verifies its digest, which is that hash
            let id = model_identity(m.bytes).map_err(CodecError::from)?;
            if id.name == header.model.name && id.hash == header.model.hash {
                return Self::from_bytes(m.bytes);
            }
        }
        Err(Error::ModelNotEmbedded {
            model: header.model.to_string(),
        })
    }

    /// The model's default quality (the one [`Model::encode`] uses): its rate point, or
    /// all iterations of a recurrent model.
    pub fn quality(&self) -> u8 {
        self.family.quality()
    }

    /// Every quality the model encodes at: its one rate point for a fixed-rate model,
    /// `1..=K` for a variable-rate model of `K` rate points, `1..=T` iterations for a
    /// recurrent model.
    pub fn qualities(&self) -> Vec<u8> {
        self.family.qualities()
    }

    /// Multiply-accumulates per image pixel of the encoder, the decoder and the entropy
    /// model's networks when coding at `quality` (a recurrent model: one iteration's
    /// cost times `quality` iterations; its bit model has no network).
    pub fn macs_per_pixel(&self, quality: u8) -> [f64; 3] {
        match &self.family {
            LoadedModel::Cvqn(c) => {
                let c = cvq_core::complexity::complexity(&c.config);
                [
                    c.encoder.macs_per_pixel,
                    c.decoder.macs_per_pixel,
                    c.entropy.macs_per_pixel,
                ]
            }
            LoadedModel::Recurrent(r) => {
                let c = cvq_core::recurrent::iteration_cost(&r.config);
                let t = f64::from(quality);
                [
                    c.encoder_macs_per_pixel * t,
                    c.decoder_macs_per_pixel * t,
                    0.0,
                ]
            }
        }
    }

    /// The model's codec family.
    pub fn family(&self) -> ModelFamily {
        self.family.family()
    }

    pub(crate) fn quality_mismatch(&self, quality: u8) -> InvalidOptions {
        let have: Vec<String> = self.qualities().iter().map(u8::to_string).collect();
        InvalidOptions::QualityMismatch {
            model: self.id(),
            model_qualities: have.join(", "),
            quality,
        }
    }

    /// `name#hash` of the model, as `.cvq` headers name it.
    pub fn id(&self) -> String {
        self.family.id_string()
    }

    /// Whether the model can encode (`false` for a decoder-only `.cvqd` of either family).
    pub fn can_encode(&self) -> bool {
        self.family.can_encode()
    }

    /// The model's decoder-only file (`.cvqd`): decodes this model's files identically,
    /// cannot encode.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] on a serialisation failure.
    pub fn decoder_only_bytes(&self) -> Result<Vec<u8>, Error> {
        Ok(self.family.decoder_only_bytes()?)
    }

    /// The underlying CVQN [`CodecModel`] (configuration, integer entropy model, the
    /// encode / decode steps one by one); `None` for a recurrent model.
    pub fn codec(&self) -> Option<&CodecModel<Cpu>> {
        match &self.family {
            LoadedModel::Cvqn(c) => Some(c),
            LoadedModel::Recurrent(_) => None,
        }
    }

    /// The underlying [`RecurrentCodecModel`]; `None` for a CVQN model.
    pub fn recurrent(&self) -> Option<&RecurrentCodecModel<Cpu>> {
        match &self.family {
            LoadedModel::Recurrent(r) => Some(r),
            LoadedModel::Cvqn(_) => None,
        }
    }

    /// Encodes an image with this model at its default rate point ([`Model::quality`]).
    ///
    /// # Errors
    ///
    /// [`Error::Codec`]: a decoder-only model, or an image beyond the format's limits.
    pub fn encode(&self, image: &RgbImage) -> Result<Encoded, Error> {
        self.encode_at(image, self.quality())
    }

    /// Encodes an image at rate point `quality`, one of [`Model::qualities`]; a photo of
    /// more than [`TILE_ABOVE_PIXELS`] in tiles of [`DEFAULT_TILE`] pixels on every core
    /// when the model allows it ([`tile_for`]).
    ///
    /// # Errors
    ///
    /// [`InvalidOptions::QualityMismatch`] for a rate point the model does not have; as
    /// [`Model::encode`].
    pub fn encode_at(&self, image: &RgbImage, quality: u8) -> Result<Encoded, Error> {
        self.encode_tiled(image, quality, None)
    }

    /// As [`Model::encode_at`], with the encoder in tiles of `tile` pixels a side
    /// (rounded up to a multiple of 16; `Some(0)`: the whole image; `None`: [`tile_for`])
    /// on all available cores.
    /// Tiles give the whole-image file (tested) with memory bounded by the tile; models
    /// that cannot tile ([`Model::can_tile`]) encode the whole image.
    ///
    /// # Errors
    ///
    /// As [`Model::encode_at`].
    pub fn encode_tiled(
        &self,
        image: &RgbImage,
        quality: u8,
        tile: Option<u32>,
    ) -> Result<Encoded, Error> {
        if !self.qualities().contains(&quality) {
            return Err(self.quality_mismatch(quality).into());
        }
        let (bytes, estimated_bits) = match &self.family {
            LoadedModel::Cvqn(c) => {
                let tile = tile_for(tile, image.width, image.height) as usize;
                let tile = tile.div_ceil(cvq_core::codec::STRIDE);
                let enc = c.encode_tiled(image, quality, tile, threads())?;
                (enc.bytes, enc.estimated_bits)
            }
            LoadedModel::Recurrent(r) => {
                let enc = r.encode(image, usize::from(quality))?;
                let payload = enc.payload_bytes.iter().sum::<usize>();
                (enc.bytes, 8.0 * payload as f64)
            }
        };
        Ok(Encoded {
            bytes,
            quality,
            model: self.id(),
            estimated_bits,
        })
    }

    /// Decodes a complete `.cvq` file made with this model (default [`Limits`]).
    ///
    /// # Errors
    ///
    /// [`Error::Codec`]: malformed, truncated or corrupt file, or another model's file.
    pub fn decode(&self, cvq: &[u8]) -> Result<RgbImage, Error> {
        Ok(match &self.family {
            LoadedModel::Cvqn(c) => c.decode(cvq)?,
            LoadedModel::Recurrent(r) => r.decode(cvq)?,
        })
    }

    /// Decodes under `limits`; with `partial`, a truncated file gives a preview from the
    /// groups present (the others are guessed) instead of an error. A photo of more than
    /// [`TILE_ABOVE_PIXELS`] is synthesised in tiles of [`DEFAULT_TILE`] pixels on every
    /// core (see [`Model::decode_tiled`]).
    ///
    /// # Errors
    ///
    /// As [`Model::decode`], and [`Error::Codec`] when the header exceeds `limits`.
    pub fn decode_with(
        &self,
        cvq: &[u8],
        limits: &Limits,
        partial: bool,
    ) -> Result<Decoded, Error> {
        self.decode_tiled(cvq, limits, partial, None)
    }

    /// Whether this model's encoder and decoder can run in tiles: every CVQN model (with
    /// channel attention in extra passes that gather the whole image's means,
    /// `cvq_core::tiling`); not the recurrent family.
    pub fn can_tile(&self) -> bool {
        matches!(self.family, LoadedModel::Cvqn(_))
    }

    /// As [`Model::decode_with`], with synthesis in tiles of `tile` pixels a side
    /// (rounded up to a multiple of 16; `Some(0)`: the whole image at once; `None`:
    /// [`tile_for`] the image's size) on all available cores. Tiles give the whole-image pixels (tested) with memory bounded by the tile;
    /// models that cannot tile ([`Model::can_tile`]), and images within one tile, are
    /// synthesised whole.
    ///
    /// # Errors
    ///
    /// As [`Model::decode_with`].
    pub fn decode_tiled(
        &self,
        cvq: &[u8],
        limits: &Limits,
        partial: bool,
        tile: Option<u32>,
    ) -> Result<Decoded, Error> {
        self.decode_reporting(cvq, limits, partial, tile, None)
    }

    /// As [`Model::decode_tiled`], telling `progress` how far a tiled synthesis has come.
    ///
    /// # Errors
    ///
    /// As [`Model::decode_with`].
    pub fn decode_reporting(
        &self,
        cvq: &[u8],
        limits: &Limits,
        partial: bool,
        tile: Option<u32>,
        progress: Option<&Progress>,
    ) -> Result<Decoded, Error> {
        let codec = match &self.family {
            LoadedModel::Cvqn(c) => c,
            LoadedModel::Recurrent(r) => return decode_recurrent(r, cvq, limits, partial),
        };
        let start = Instant::now();
        let symbols = codec.decode_symbols(cvq, limits, partial)?;
        let entropy_time = start.elapsed();
        let start = Instant::now();
        let (w, h) = (
            symbols.header.width as usize,
            symbols.header.height as usize,
        );
        let tile_latent = (tile_for(tile, w, h) as usize).div_ceil(cvq_core::codec::STRIDE);
        let (lh, lw) = symbols.header.latent_size();
        let (image, tiles) = if tile_latent == 0
            || !self.can_tile()
            || (lh as usize <= tile_latent && lw as usize <= tile_latent)
        {
            (codec.synthesize(&symbols)?, 1)
        } else {
            let threads = std::thread::available_parallelism().map_or(1, usize::from);
            let image = codec.synthesize_tiled(&symbols, tile_latent, threads, |done, total| {
                if let Some(p) = progress {
                    p.report(done, total);
                }
            })?;
            let tiles = cvq_core::tiling::tile_count(lh as usize, lw as usize, tile_latent);
            (image, tiles)
        };
        Ok(Decoded {
            image,
            groups_received: symbols.groups_received,
            groups: symbols.header.groups.len(),
            entropy_time,
            synthesis_time: start.elapsed(),
            tiles,
        })
    }
}

/// One iteration count of [`Model::round_trip_iterations`].
#[derive(Debug, Clone)]
pub struct IterationRoundTrip {
    /// The `.cvq` file of this many iterations (byte-identical to an encode at that
    /// quality).
    pub bytes: Vec<u8>,
    /// Payload bytes of these iterations (the file less its header).
    pub payload_bytes: usize,
    /// The image decoded after these iterations.
    pub image: RgbImage,
    /// Time from the start of decoding until this image was ready (progressive decode).
    pub decode_time: Duration,
}

/// Every iteration count of a recurrent model on one image, from one encode and one
/// progressive decode.
#[derive(Debug, Clone)]
pub struct ProgressiveRoundTrip {
    /// The encode of all iterations.
    pub encode_time: Duration,
    /// Iteration counts `1..=T`, in order.
    pub iterations: Vec<IterationRoundTrip>,
}

impl Model {
    /// A recurrent model's files of `image` at every iteration count `1..=iterations`
    /// (index `t − 1`: the file of `t` iterations), from one encode of `iterations`
    /// iterations cut after each (byte-identical to an encode at that count: an
    /// iteration's codes do not depend on later ones). What a size target needs: the
    /// largest prefix that fits, for the price of one encode instead of one per count.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] for a CVQN model ([`CodecError::WrongFamily`]) or a failed
    /// encode; [`InvalidOptions::QualityMismatch`] for `iterations` beyond the model's.
    pub fn encode_each_iteration(
        &self,
        image: &RgbImage,
        iterations: u8,
    ) -> Result<Vec<Encoded>, Error> {
        let r = self.require_recurrent()?;
        if !self.qualities().contains(&iterations) {
            return Err(self.quality_mismatch(iterations).into());
        }
        Ok(cut_after_each_iteration(r, image, usize::from(iterations))?
            .into_iter()
            .zip(1..=iterations)
            .map(|((bytes, payload_bytes), t)| Encoded {
                bytes,
                quality: t,
                model: self.id(),
                estimated_bits: 8.0 * payload_bytes as f64,
            })
            .collect())
    }

    /// A recurrent model's encode of `image` with all its iterations, cut to every
    /// iteration count `t` (the files an encode at quality `t` writes: an iteration's
    /// codes do not depend on later ones), and decoded progressively: what an
    /// evaluation of every iteration count needs, at the cost of one encode and one
    /// decode.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] for a CVQN model ([`CodecError::WrongFamily`]) or a failed
    /// encode / decode.
    pub fn round_trip_iterations(&self, image: &RgbImage) -> Result<ProgressiveRoundTrip, Error> {
        let r = self.require_recurrent()?;
        let start = Instant::now();
        let files = cut_after_each_iteration(r, image, r.config.iterations)?;
        let encode_time = start.elapsed();
        let Some((all, _)) = files.last() else {
            return Ok(ProgressiveRoundTrip {
                encode_time,
                iterations: Vec::new(),
            });
        };
        let start = Instant::now();
        let bits = r.decode_bits(all, &Limits::default(), false)?;
        let mut decoded = Vec::with_capacity(bits.planes.len());
        r.reconstruct_each(&bits, |_, image| decoded.push((image, start.elapsed())))?;
        let iterations = files
            .into_iter()
            .zip(decoded)
            .map(
                |((bytes, payload_bytes), (image, decode_time))| IterationRoundTrip {
                    bytes,
                    payload_bytes,
                    image,
                    decode_time,
                },
            )
            .collect();
        Ok(ProgressiveRoundTrip {
            encode_time,
            iterations,
        })
    }

    /// [`Self::recurrent`], or [`CodecError::WrongFamily`] for a CVQN model.
    fn require_recurrent(&self) -> Result<&RecurrentCodecModel<Cpu>, Error> {
        self.recurrent().ok_or_else(|| {
            CodecError::WrongFamily(format!(
                "{} is a CVQN model; iteration counts belong to recurrent models",
                self.id()
            ))
            .into()
        })
    }
}

/// One encode of `iterations` iterations, cut after each: for `t = 1..=iterations` the
/// file of `t` iterations and its payload bytes (the file less its header).
fn cut_after_each_iteration(
    r: &RecurrentCodecModel<Cpu>,
    image: &RgbImage,
    iterations: usize,
) -> Result<Vec<(Vec<u8>, usize)>, Error> {
    let enc = r.encode(image, iterations)?;
    let limits = Limits::default();
    (1..=iterations)
        .map(|t| {
            Ok((
                r.truncate_iterations(&enc.bytes, t, &limits)?,
                enc.payload_bytes[..t].iter().sum(),
            ))
        })
        .collect()
}

/// [`Model::decode_tiled`] of a recurrent model: the received iterations' bits, then the
/// decoder iteration by iteration (whole image).
fn decode_recurrent(
    model: &RecurrentCodecModel<Cpu>,
    cvq: &[u8],
    limits: &Limits,
    partial: bool,
) -> Result<Decoded, Error> {
    let start = Instant::now();
    let bits = model.decode_bits(cvq, limits, partial)?;
    let entropy_time = start.elapsed();
    let start = Instant::now();
    let image = model.reconstruct(&bits)?;
    Ok(Decoded {
        image,
        groups_received: bits.planes.len(),
        groups: bits.iterations,
        entropy_time,
        synthesis_time: start.elapsed(),
        tiles: 1,
    })
}

/// Worker threads for tiled encode and decode: the available cores.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The model of a command-line tool: the model file at `path` (which must have rate
/// point `quality` if that is given), else the embedded model of `quality`
/// (default [`DEFAULT_QUALITY`]).
///
/// # Errors
///
/// As [`Model::open`] and [`Model::embedded`];
/// [`InvalidOptions::QualityMismatch`] for a file of another rate point.
pub fn load_model(path: Option<&Path>, quality: Option<u8>) -> Result<Model, Error> {
    let Some(path) = path else {
        return Model::embedded(quality.unwrap_or(DEFAULT_QUALITY));
    };
    let model = Model::open(path)?;
    match quality {
        Some(q) if !model.qualities().contains(&q) => Err(model.quality_mismatch(q).into()),
        _ => Ok(model),
    }
}
