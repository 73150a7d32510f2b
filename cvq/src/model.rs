//! [`Model`]: a frozen codec model on the CPU, embedded or loaded from a file.

use std::path::Path;
use std::time::{Duration, Instant};

use cvq_bitstream::format::{Limits, read_prefix};
use cvq_core::codec::{CodecError, CodecModel, RgbImage};
use cvq_entropy::ModelFile;

use crate::embedded::MODELS;
use crate::{Error, InvalidOptions};

/// The backend the networks run on: Burn's Flex CPU backend (all cores).
pub type Cpu = burn::backend::Flex;

/// The rate point used when none is asked for.
pub const DEFAULT_QUALITY: u8 = 3;

/// The rate points of the embedded models, lowest rate (smallest files) first.
pub fn qualities() -> impl DoubleEndedIterator<Item = u8> + Clone {
    MODELS.iter().flat_map(|m| m.qualities.iter().copied())
}

pub(crate) fn no_such_quality(quality: u8) -> InvalidOptions {
    let available: Vec<String> = qualities().map(|q| q.to_string()).collect();
    InvalidOptions::NoSuchQuality {
        quality,
        available: available.join(", "),
    }
}

/// A frozen model ready to encode and decode on the CPU: one of the embedded models
/// ([`Model::embedded`]), a `.cvqm` file, or a decoder-only `.cvqd` file (decodes only).
///
/// Loading deserialises the weights (tens of milliseconds); keep a `Model` (in an
/// [`Options`](crate::Options), behind an `Arc`) to encode or decode many images.
#[derive(Debug)]
pub struct Model {
    codec: CodecModel<Cpu>,
}

/// The result of an encode.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The `.cvq` file.
    pub bytes: Vec<u8>,
    /// The rate point of the model that made it.
    pub quality: u8,
    /// `name#hash` of that model (also written in the file's header).
    pub model: String,
    /// Payload bits the integer entropy model predicted (the file adds the header and the
    /// range coder's overhead).
    pub estimated_bits: f64,
}

/// The result of [`Model::decode_with`] / [`decode_with`](crate::decode_with).
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The reconstruction.
    pub image: RgbImage,
    /// Groups decoded from their payloads (fewer than `groups` for a partial file; the
    /// rest are guessed).
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

/// Tile side, in pixels, of [`Model::decode_with`]'s tiled synthesis (models whose
/// decoder has no channel attention): 512 px tiles plus the halo keep the decoder's
/// activations near 100 MB whatever the photo's size.
pub const DEFAULT_TILE: u32 = 512;

impl Model {
    /// The embedded model that serves rate point `quality` (see [`qualities`]); encode
    /// at that rate point with [`Model::encode_at`].
    ///
    /// # Errors
    ///
    /// [`InvalidOptions::NoSuchQuality`], or a model that fails to load.
    pub fn embedded(quality: u8) -> Result<Self, Error> {
        let m = MODELS
            .iter()
            .find(|m| m.qualities.contains(&quality))
            .ok_or_else(|| no_such_quality(quality))?;
        Self::from_bytes(m.bytes)
    }

    /// Loads a model file's bytes (`.cvqm`, or a decoder-only `.cvqd`).
    ///
    /// # Errors
    ///
    /// [`Error::Codec`]: not a model file, bad digest, configuration or weights.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Ok(Self {
            codec: CodecModel::load(bytes, &Default::default())?,
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
        let codec =
            CodecModel::load(&bytes, &Default::default()).map_err(|source| Error::ModelFile {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self { codec })
    }

    /// The embedded model that made `cvq` (a whole `.cvq` file or a prefix that holds
    /// its header), found by the model name and hash in the header. Only that model's
    /// weights are deserialised.
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
            let file = ModelFile::from_bytes(m.bytes).map_err(CodecError::from)?;
            if file.name == header.model.name
                && file.hash().map_err(CodecError::from)? == header.model.hash
            {
                return Ok(Self {
                    codec: CodecModel::from_model_file(&file, &Default::default())?,
                });
            }
        }
        let hash: String = header
            .model
            .hash
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Err(Error::ModelNotEmbedded {
            model: format!("{}#{hash}", header.model.name),
        })
    }

    /// The model's default rate point (the one [`Model::encode`] uses).
    pub fn quality(&self) -> u8 {
        self.codec.quality
    }

    /// Every rate point the model encodes at: its one quality for a fixed-rate model,
    /// `1..=K` for a variable-rate model of `K` rate points.
    pub fn qualities(&self) -> Vec<u8> {
        self.codec.qualities()
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
        self.codec.id_string()
    }

    /// Whether the model can encode (`false` for a decoder-only `.cvqd`).
    pub fn can_encode(&self) -> bool {
        self.codec.model.is_some()
    }

    /// The underlying [`CodecModel`] (configuration, integer entropy model, the
    /// encode / decode steps one by one).
    pub fn codec(&self) -> &CodecModel<Cpu> {
        &self.codec
    }

    /// Encodes an image with this model at its default rate point ([`Model::quality`]).
    ///
    /// # Errors
    ///
    /// [`Error::Codec`]: a decoder-only model, or an image beyond the format's limits.
    pub fn encode(&self, image: &RgbImage) -> Result<Encoded, Error> {
        self.encode_at(image, self.quality())
    }

    /// Encodes an image at rate point `quality`, one of [`Model::qualities`], with the
    /// encoder in tiles of [`DEFAULT_TILE`] pixels on every core when the model allows it.
    ///
    /// # Errors
    ///
    /// [`InvalidOptions::QualityMismatch`] for a rate point the model does not have; as
    /// [`Model::encode`].
    pub fn encode_at(&self, image: &RgbImage, quality: u8) -> Result<Encoded, Error> {
        self.encode_tiled(image, quality, DEFAULT_TILE)
    }

    /// As [`Model::encode_at`], with the encoder in tiles of `tile` pixels a side
    /// (rounded up to a multiple of 16; `0`: the whole image) on all available cores.
    /// Tiles give the whole-image file (tested) with memory bounded by the tile; models
    /// whose encoder cannot tile ([`Model::can_tile`]) encode the whole image.
    ///
    /// # Errors
    ///
    /// As [`Model::encode_at`].
    pub fn encode_tiled(&self, image: &RgbImage, quality: u8, tile: u32) -> Result<Encoded, Error> {
        if !self.qualities().contains(&quality) {
            return Err(self.quality_mismatch(quality).into());
        }
        let tile = (tile as usize).div_ceil(cvq_core::codec::STRIDE);
        let enc = self.codec.encode_tiled(image, quality, tile, threads())?;
        Ok(Encoded {
            bytes: enc.bytes,
            quality,
            model: self.id(),
            estimated_bits: enc.estimated_bits,
        })
    }

    /// Decodes a complete `.cvq` file made with this model (default [`Limits`]).
    ///
    /// # Errors
    ///
    /// [`Error::Codec`]: malformed, truncated or corrupt file, or another model's file.
    pub fn decode(&self, cvq: &[u8]) -> Result<RgbImage, Error> {
        Ok(self.codec.decode(cvq)?)
    }

    /// Decodes under `limits`; with `partial`, a truncated file gives a preview from the
    /// groups present (the others are guessed) instead of an error. Synthesis runs in
    /// tiles of [`DEFAULT_TILE`] pixels on every core when the model allows it (see
    /// [`Model::decode_tiled`]).
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
        self.decode_tiled(cvq, limits, partial, DEFAULT_TILE)
    }

    /// Whether this model's decoder can run in tiles (no channel attention, so every
    /// pixel depends on a bounded neighbourhood of the latent). Its encoder usually can
    /// too (`cvq_core::tiling::analysis_halo`).
    pub fn can_tile(&self) -> bool {
        cvq_core::tiling::synthesis_halo(&self.codec.config).is_some()
    }

    /// As [`Model::decode_with`], with synthesis in tiles of `tile` pixels a side
    /// (rounded up to a multiple of 16; `0`: the whole image at once) on all available
    /// cores. Tiles give the whole-image pixels (tested) with memory bounded by the tile;
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
        tile: u32,
    ) -> Result<Decoded, Error> {
        let start = Instant::now();
        let symbols = self.codec.decode_symbols(cvq, limits, partial)?;
        let entropy_time = start.elapsed();
        let start = Instant::now();
        let tile_latent = (tile as usize).div_ceil(cvq_core::codec::STRIDE);
        let (lh, lw) = symbols.header.latent_size();
        let (image, tiles) = if tile_latent == 0
            || !self.can_tile()
            || (lh as usize <= tile_latent && lw as usize <= tile_latent)
        {
            (self.codec.synthesize(&symbols)?, 1)
        } else {
            let threads = std::thread::available_parallelism().map_or(1, usize::from);
            let mut tiles = 0;
            let image =
                self.codec
                    .synthesize_tiled(&symbols, tile_latent, threads, |_, total| tiles = total)?;
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
