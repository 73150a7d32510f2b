//! Image ⇄ `.cvq` with a frozen model: padding, quantization, integer entropy coding,
//! the container, and synthesis.
//!
//! ```text
//! encode: RGB8 (w×h) → pad to 16 (edge replication) → encoder + quantizers → symbols
//!         → integer entropy model → group payloads → .cvq (groups most important first)
//! decode: .cvq → limits/CRC/model-id checks → integer entropy model → symbols
//!         → decoder → clamp, round → crop to w×h
//! ```
//!
//! Decoding is split into [`CodecModel::decode_symbols`] (entropy, pure integer, the
//! same on every target) and [`CodecModel::synthesize`] (float synthesis on the Burn
//! backend) so callers can time or run them separately.

use burn::module::Module;
use burn::record::{FullPrecisionSettings, HalfPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use cvq_bitstream::format::{
    FileHeader, FormatError, Limits, ModelId, read_file, read_prefix, write_file,
};
use cvq_entropy::{
    ContainerSymbols, EntropyError, EntropyModel, ModelFile, ModelKind, WeightPrecision,
    decode_stored, rate_of_quality, stored_layout,
};

use crate::config::{ConfigError, CvqnConfig};
use crate::entropy::export_entropy_model;
use crate::model::Cvqn;
use crate::model::cpu::{CpuDecoder, CpuEncoder, Means};
use crate::model::decoder::STAGES;
use crate::model::split_merge::{ChannelGroups, inverse_order, order_tensor};
use crate::model::synthesis::Synthesis;
use crate::tiling::{Features, f32_values, mean_values};
use cvq_kernels::Maps;

/// The latent stride: images are padded to a multiple of this.
pub const STRIDE: usize = 16;

/// An 8-bit RGB image, rows top to bottom, `data.len() == 3·width·height`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels (≥ 1).
    pub width: usize,
    /// Height in pixels (≥ 1).
    pub height: usize,
    /// Interleaved RGB bytes.
    pub data: Vec<u8>,
}

impl RgbImage {
    /// Checks the size and the buffer length.
    ///
    /// # Errors
    ///
    /// [`CodecError::BadImage`].
    pub fn new(width: usize, height: usize, data: Vec<u8>) -> Result<Self, CodecError> {
        let expected = width
            .checked_mul(height)
            .and_then(|p| p.checked_mul(3))
            .filter(|_| width > 0 && height > 0);
        if expected != Some(data.len()) {
            return Err(CodecError::BadImage(format!(
                "{width}×{height} RGB image needs {} bytes, got {}",
                expected.map_or("a positive size and".to_string(), |e| e.to_string()),
                data.len()
            )));
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }
}

/// Errors of encoding and decoding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The container is malformed or exceeds the limits.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// Entropy coding failed (corrupt payload, inconsistent model).
    #[error(transparent)]
    Entropy(#[from] EntropyError),
    /// The model's configuration is invalid.
    #[error("model configuration: {0}")]
    Config(#[from] ConfigError),
    /// The file was written by another model.
    #[error("file was encoded with model {file} but the loaded model is {model}")]
    WrongModel {
        /// Model named in the file (`name#hash`).
        file: String,
        /// The loaded model (`name#hash`).
        model: String,
    },
    /// The model file's weights cannot be loaded.
    #[error("model weights: {0}")]
    Weights(String),
    /// The input image is unusable.
    #[error("bad image: {0}")]
    BadImage(String),
    /// The model does not encode at the asked quality.
    #[error("model {model} has no quality {quality} (it encodes at {qualities:?})")]
    Quality {
        /// The quality asked for.
        quality: u8,
        /// The loaded model (`name#hash`).
        model: String,
        /// The qualities it has.
        qualities: Vec<u8>,
    },
    /// Encoding was asked of a decoder-only model (`.cvqd`).
    #[error("model {model} is decoder-only (.cvqd): encoding needs its full .cvqm model file")]
    DecoderOnly {
        /// The loaded model (`name#hash`).
        model: String,
    },
    /// Tiled synthesis needs a decoder without global pooling (channel attention).
    #[error(
        "model {model} cannot decode in tiles: its decoder uses channel attention (global pooling)"
    )]
    NotTileable {
        /// The loaded model (`name#hash`).
        model: String,
    },
    /// The recurrent model's configuration is invalid.
    #[error("recurrent model configuration: {0}")]
    RecurrentConfig(#[from] crate::recurrent::config::RecurrentConfigError),
    /// A recurrent encode was asked for more iterations than the model has.
    #[error("model {model} codes 1..={max} iterations, not {asked}")]
    Iterations {
        /// Iterations asked for.
        asked: usize,
        /// The model's iterations.
        max: usize,
        /// The loaded model (`name#hash`).
        model: String,
    },
    /// A file of one codec family was given to a model of the other.
    #[error("{0}")]
    WrongFamily(String),
}

/// A model ready to encode and decode: float transforms plus the integer entropy model.
#[derive(Debug)]
pub struct CodecModel<B: Backend> {
    /// The whole float model (encoder, quantizers, decoder); `None` when loaded from a
    /// decoder-only file, which cannot encode.
    pub model: Option<Cvqn<B>>,
    /// The synthesis half used to decode (shares its parameters with `model`).
    pub synthesis: Synthesis<B>,
    /// Precision of the loaded weights (used again when cutting a decoder-only file).
    pub precision: WeightPrecision,
    /// Its configuration.
    pub config: CvqnConfig,
    /// The configuration's text as the model file stores it (a decoder-only cut copies
    /// it byte for byte: re-serialising could differ, e.g. by fields added since).
    config_json: String,
    /// The integer entropy model (frozen at export).
    pub entropy: EntropyModel,
    /// Name and hash written into every `.cvq` file.
    pub id: ModelId,
    /// Rate point written into `.cvq` headers.
    pub quality: u8,
    /// The transforms as channels-last CPU kernels, when the caller runs on the CPU
    /// ([`Self::with_cpu_kernels`]).
    cpu: Option<CpuKernels>,
    device: B::Device,
}

/// The transforms' CPU kernels ([`CodecModel::with_cpu_kernels`]).
#[derive(Debug, Clone)]
struct CpuKernels {
    decoder: CpuDecoder,
    /// `None` for a decoder-only model (or an encoder without kernels).
    encoder: Option<CpuEncoder>,
    /// Threads of each convolution.
    threads: usize,
}

/// Symbols decoded from a (possibly partial) file, before synthesis.
#[derive(Debug, Clone)]
pub struct DecodedSymbols {
    /// The file header.
    pub header: FileHeader,
    /// Symbols per group in model order (least important first), `[c_g][h/16][w/16]`.
    pub symbols: Vec<Vec<usize>>,
    /// Channel order (least → most important) for the decoder.
    pub order: Vec<usize>,
    /// Groups whose payload was present (the rest are most-probable-symbol guesses).
    pub groups_received: usize,
}

/// The result of [`CodecModel::encode`].
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The `.cvq` file.
    pub bytes: Vec<u8>,
    /// Payload bytes per group, stored order (most important first).
    pub payload_bytes: Vec<usize>,
    /// Ideal code length in bits under the integer model (before coder overhead).
    pub estimated_bits: f64,
}

/// The model input for an image: `[1, 3, H', W']` in `0..1`, padded to multiples of
/// [`STRIDE`] by edge replication.
pub fn image_to_tensor<B: Backend>(image: &RgbImage, device: &B::Device) -> Tensor<B, 4> {
    let (pw, ph) = (
        image.width.div_ceil(STRIDE) * STRIDE,
        image.height.div_ceil(STRIDE) * STRIDE,
    );
    image_region_to_tensor(image, 0..ph, 0..pw, device)
}

/// Rows × columns of [`image_to_tensor`]'s padded input, alone: `[1, 3, |rows|, |cols|]`
/// (what tiled analysis feeds the encoder window by window).
pub fn image_region_to_tensor<B: Backend>(
    image: &RgbImage,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    device: &B::Device,
) -> Tensor<B, 4> {
    let maps = image_region_maps(image, rows, cols);
    Tensor::from_data(
        TensorData::new(maps.to_planes(), [1, 3, maps.height, maps.width]),
        device,
    )
}

/// [`image_region_to_tensor`]'s values as channels-last maps (`|rows| × |cols| × 3`):
/// the pixels in `0..1`, rows and columns past the image repeating its last ones.
pub(crate) fn image_region_maps(
    image: &RgbImage,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
) -> Maps {
    let (w, h) = (image.width, image.height);
    let mut data = Vec::with_capacity(3 * rows.len() * cols.len());
    for y in rows.clone() {
        let row = y.min(h - 1) * w;
        for x in cols.clone() {
            let at = (row + x.min(w - 1)) * 3;
            data.extend(image.data[at..at + 3].iter().map(|&v| f32::from(v) / 255.0));
        }
    }
    Maps {
        height: rows.len(),
        width: cols.len(),
        channels: 3,
        data,
    }
}

/// An image side as a `.cvq` header stores it.
///
/// # Errors
///
/// [`CodecError::BadImage`] for a side beyond `u32`.
pub(crate) fn header_dimension(pixels: usize) -> Result<u32, CodecError> {
    u32::try_from(pixels).map_err(|_| CodecError::BadImage(format!("{pixels} pixels is too large")))
}

/// Latent rows quantised at a time when encoding: the quantizers' `[C, rows, W, L]`
/// distance tensors stay small whatever the image's size.
const QUANTIZE_BAND_ROWS: usize = 16;

/// The symbols of an encoder output at rate point `rate`, queued on the backend as one
/// integer tensor to read back ([`SymbolLayout`] says how it is laid out): quantised band
/// by band of latent rows (the quantizers act per element, so the symbols are those of
/// the whole latent; the order is computed once from the whole gained latent).
fn queued_symbols<B: Backend>(
    model: &Cvqn<B>,
    latent: Tensor<B, 4>,
    rate: usize,
) -> (Tensor<B, 1, Int>, SymbolLayout) {
    let latent = model.gained(latent, rate);
    let order = model.channel_order(&latent);
    let [_, channels, h, w] = latent.dims();
    let permuted = crate::model::split_merge::permute_channels(latent, order.clone());
    let mut parts = vec![order];
    for y0 in (0..h).step_by(QUANTIZE_BAND_ROWS) {
        let y1 = (y0 + QUANTIZE_BAND_ROWS).min(h);
        let band = permuted.clone().slice([0..1, 0..channels, y0..y1, 0..w]);
        for (part, q) in model
            .groups()
            .split(band)
            .into_iter()
            .zip(&model.quantizers)
        {
            parts.push(q.symbols(part).flatten::<1>(0, 3));
        }
    }
    let layout = SymbolLayout {
        widths: model.groups().sizes().to_vec(),
        height: h,
        width: w,
    };
    (Tensor::cat(parts, 0), layout)
}

/// How [`queued_symbols`] lays out an encode's symbols in one integer tensor: the
/// channel order (`C` values), then for each band of [`QUANTIZE_BAND_ROWS`] latent rows
/// and each group `g` in model order its symbols `[c_g, rows, width]`.
#[derive(Debug, Clone)]
struct SymbolLayout {
    /// Channels of each group (model order).
    widths: Vec<usize>,
    /// Latent rows.
    height: usize,
    /// Latent columns.
    width: usize,
}

impl SymbolLayout {
    /// The channel order and each group's symbols `[c_g][h][w]` from the read-back
    /// values.
    fn unpack(&self, data: TensorData) -> Result<(Vec<usize>, Vec<Vec<usize>>), CodecError> {
        let values = data
            .convert::<i64>()
            .into_vec::<i64>()
            .map_err(|e| CodecError::Weights(format!("reading symbols: {e:?}")))?;
        let (h, w) = (self.height, self.width);
        let channels: usize = self.widths.iter().sum();
        if values.len() != channels * (1 + h * w) {
            return Err(CodecError::Weights(format!(
                "the encoder gave {} symbols, expected {}",
                values.len(),
                channels * (1 + h * w)
            )));
        }
        let value = |v: i64| v.max(0) as usize;
        let order = values[..channels].iter().map(|&v| value(v)).collect();
        let mut symbols: Vec<Vec<usize>> =
            self.widths.iter().map(|&c| vec![0; c * h * w]).collect();
        let mut at = channels;
        for y0 in (0..h).step_by(QUANTIZE_BAND_ROWS) {
            let rows = (y0 + QUANTIZE_BAND_ROWS).min(h) - y0;
            for (g, &c) in self.widths.iter().enumerate() {
                for ch in 0..c {
                    let dst = ch * h * w + y0 * w;
                    let src = &values[at..at + rows * w];
                    for (d, &v) in symbols[g][dst..dst + rows * w].iter_mut().zip(src) {
                        *d = value(v);
                    }
                    at += rows * w;
                }
            }
        }
        Ok((order, symbols))
    }
}

/// An encode whose network work is queued on the backend and whose symbols are still
/// to be read back ([`CodecModel::queue_encode`]): read `symbols` (`into_data`, or
/// `into_data_async` where the backend cannot block, as WebGPU in a browser) and hand the
/// data to `writer`, which entropy-codes it on the CPU into the `.cvq` file.
#[derive(Debug)]
pub struct PendingEncode<B: Backend> {
    /// The symbols, laid out as `writer` expects.
    pub symbols: Tensor<B, 1, Int>,
    /// Turns the read-back symbols into the file (no backend).
    pub writer: SymbolWriter,
}

impl<B: Backend> PendingEncode<B> {
    /// Reads the symbols back (blocking) and writes the file.
    ///
    /// # Errors
    ///
    /// As [`SymbolWriter::write`].
    pub fn finish(self) -> Result<Encoded, CodecError> {
        self.writer.write(self.symbols.into_data())
    }
}

/// The CPU half of an encode ([`PendingEncode`]): the integer entropy model at the
/// encode's rate point and the file header's fields.
#[derive(Debug, Clone)]
pub struct SymbolWriter {
    layout: SymbolLayout,
    entropy: EntropyModel,
    header: FileHeader,
}

impl SymbolWriter {
    /// Entropy-codes the read-back symbols (`data` of [`PendingEncode::symbols`]) and
    /// writes the `.cvq` file.
    ///
    /// # Errors
    ///
    /// [`CodecError::Weights`] for data that is not the pending encode's; entropy or
    /// container errors (e.g. an image beyond the format's limits).
    pub fn write(&self, data: TensorData) -> Result<Encoded, CodecError> {
        let (order, symbols) = self.layout.unpack(data)?;
        let (lh, lw) = (self.layout.height, self.layout.width);
        let (payloads, bits) = self.entropy.encode_with_estimate(&symbols, lh, lw)?;
        let (permutation, groups) = stored_layout(&self.entropy, &order)?;
        let header = FileHeader {
            permutation,
            groups,
            ..self.header.clone()
        };
        let stored: Vec<&Vec<u8>> = payloads.iter().rev().collect();
        Ok(Encoded {
            bytes: write_file(&header, &stored)?,
            payload_bytes: stored.iter().map(|p| p.len()).collect(),
            estimated_bits: bits.iter().sum(),
        })
    }
}

impl<B: Backend> CodecModel<B> {
    /// Freezes a (trained) model: exports its integer entropy model and computes the
    /// model hash of the model file it would be saved as.
    ///
    /// # Errors
    ///
    /// Export or serialisation errors.
    pub fn freeze(
        model: Cvqn<B>,
        config: CvqnConfig,
        quality: u8,
        precision: WeightPrecision,
        device: &B::Device,
    ) -> Result<(Self, ModelFile), CodecError> {
        config.validate()?;
        let entropy = export_entropy_model(&model)?;
        let weights = record_bytes(&model, precision)?;
        let file = ModelFile {
            kind: ModelKind::Full,
            name: config.name.clone(),
            quality,
            config_json: serde_json::to_string(&config)
                .map_err(|e| CodecError::Weights(e.to_string()))?,
            precision,
            weights,
            entropy: entropy.clone(),
        };
        // Reload the stored weights so that encoding uses exactly what decoders load.
        let codec = Self::from_model_file(&file, device)?;
        Ok((codec, file))
    }

    /// Loads a model file (see [`ModelFile`]).
    ///
    /// # Errors
    ///
    /// Parse, digest, configuration or weight errors.
    pub fn load(bytes: &[u8], device: &B::Device) -> Result<Self, CodecError> {
        let file = ModelFile::from_bytes(bytes)?;
        // the digest is verified: the hash it states is the file's (no second pass)
        let hash = cvq_entropy::model_identity(bytes)?.hash;
        Self::build(&file, hash, device)
    }

    /// Builds the codec from a parsed model file.
    ///
    /// # Errors
    ///
    /// Configuration or weight errors, or an entropy model that does not fit the
    /// configuration.
    pub fn from_model_file(file: &ModelFile, device: &B::Device) -> Result<Self, CodecError> {
        Self::build(file, file.hash()?, device)
    }

    /// [`Self::from_model_file`] with the file's model hash already known.
    fn build(file: &ModelFile, hash: [u8; 8], device: &B::Device) -> Result<Self, CodecError> {
        let config: CvqnConfig = serde_json::from_str(&file.config_json)
            .map_err(|e| CodecError::Weights(format!("config JSON: {e}")))?;
        let (model, synthesis) = match file.kind {
            ModelKind::Full => {
                let model = load_weights(
                    Cvqn::<B>::new(&config, device)?,
                    &file.weights,
                    file.precision,
                    device,
                )?;
                let synthesis = model.synthesis();
                (Some(model), synthesis)
            }
            ModelKind::DecoderOnly { .. } => (
                None,
                load_weights(
                    Synthesis::<B>::new(&config, device)?,
                    &file.weights,
                    file.precision,
                    device,
                )?,
            ),
        };
        let shapes = file.entropy.shapes();
        let groups = config.group_channels();
        if shapes.len() != groups.len()
            || shapes
                .iter()
                .zip(groups.iter().zip(&config.levels))
                .any(|(s, (&c, &l))| s.channels != c || s.levels != l)
        {
            return Err(CodecError::Weights(
                "entropy model groups differ from the configuration".into(),
            ));
        }
        let id = ModelId::new(file.name.clone(), hash)?;
        Ok(Self {
            model,
            synthesis,
            precision: file.precision,
            config,
            config_json: file.config_json.clone(),
            entropy: file.entropy.clone(),
            id,
            quality: file.quality,
            cpu: None,
            device: device.clone(),
        })
    }

    /// Encodes and decodes with the transforms' channels-last CPU kernels
    /// ([`crate::model::cpu`]) instead of the Burn modules, each convolution split over
    /// `threads` threads (tiled coding divides them among its tiles): for tools whose
    /// backend runs on the CPU, where they are 2–3× faster. Decoded pixels may differ
    /// from the Burn path's by ±1 where float rounding tips them, and an encoder's symbol
    /// where a value sits on a decision boundary; every file still decodes the same
    /// everywhere. A transform without kernels (GDN) keeps the Burn path.
    pub fn with_cpu_kernels(mut self, threads: usize) -> Self {
        self.cpu = self
            .synthesis
            .decoder
            .cpu_kernels()
            .map(|decoder| CpuKernels {
                decoder,
                encoder: self.model.as_ref().and_then(|m| m.encoder.cpu_kernels()),
                threads: threads.max(1),
            });
        self
    }

    /// The integer entropy model computes its distributions on `threads` threads
    /// ([`EntropyModel::with_threads`]): the same symbols and bytes on any count.
    pub fn with_entropy_threads(mut self, threads: usize) -> Self {
        self.entropy = self.entropy.with_threads(threads);
        self
    }

    /// The threads of the CPU kernels' convolutions, if [`Self::with_cpu_kernels`] is on.
    pub fn cpu_kernel_threads(&self) -> Option<usize> {
        self.cpu.as_ref().map(|k| k.threads)
    }

    /// The encoder's CPU kernels and their threads, if on.
    pub(crate) fn cpu_encoder(&self) -> Option<(&CpuEncoder, usize)> {
        let k = self.cpu.as_ref()?;
        Some((k.encoder.as_ref()?, k.threads))
    }

    /// The decoder-only model file (`.cvqd`) of this model: decoder, quantizers and the
    /// integer entropy model, named by this model's hash so that its `.cvq` files decode
    /// with it (bit-identically: the same weights at the same precision).
    ///
    /// # Errors
    ///
    /// Serialisation errors.
    pub fn decoder_only_file(&self) -> Result<ModelFile, CodecError> {
        Ok(ModelFile {
            kind: ModelKind::DecoderOnly {
                model_hash: self.id.hash,
            },
            name: self.id.name.clone(),
            quality: self.quality,
            config_json: self.config_json.clone(),
            precision: self.precision,
            weights: record_bytes(&self.synthesis, self.precision)?,
            entropy: self.entropy.clone(),
        })
    }

    /// The device the model's tensors live on.
    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// `name#hash` of the model.
    pub fn id_string(&self) -> String {
        self.id.to_string()
    }

    /// Qualities this model encodes at: `1..=K` for a variable-rate model, only its
    /// [`quality`](Self::quality) for a fixed-rate one.
    pub fn qualities(&self) -> Vec<u8> {
        match self.entropy.rate_points() {
            0 => vec![self.quality],
            k => (1..=k as u8).collect(),
        }
    }

    /// The rate point (`0..K`) of `quality` for a variable-rate model; 0 for the
    /// model's own quality in a fixed-rate one.
    ///
    /// # Errors
    ///
    /// [`CodecError::Quality`] if the model does not encode at that quality.
    pub fn rate_point(&self, quality: u8) -> Result<usize, CodecError> {
        let bad = || CodecError::Quality {
            quality,
            model: self.id_string(),
            qualities: self.qualities(),
        };
        if self.entropy.rate_points() == 0 {
            return if quality == self.quality {
                Ok(0)
            } else {
                Err(bad())
            };
        }
        rate_of_quality(&self.entropy, quality).map_err(|_| bad())
    }

    /// Encodes an image at the model's own quality (the default rate point of a
    /// variable-rate model).
    ///
    /// # Errors
    ///
    /// Entropy or container errors (e.g. an image beyond the format's limits).
    pub fn encode(&self, image: &RgbImage) -> Result<Encoded, CodecError> {
        self.encode_at(image, self.quality)
    }

    /// Encodes an image at `quality` (one of [`qualities`](Self::qualities)).
    ///
    /// # Errors
    ///
    /// [`CodecError::Quality`] for a quality the model does not have; entropy or
    /// container errors (e.g. an image beyond the format's limits).
    pub fn encode_at(&self, image: &RgbImage, quality: u8) -> Result<Encoded, CodecError> {
        self.encode_tiled(image, quality, 0, 1)
    }

    /// As [`Self::encode_at`], with the encoder run in tiles of `tile` latent positions
    /// (`16·tile` pixels; 0: the whole image) on `threads` threads when the image is
    /// larger than one tile ([`analyze_tiled`](Self::analyze_tiled)). The latent equals the whole-image one up to float summation
    /// order; memory is bounded by the tile (the latent itself is 1/256 of the pixels).
    ///
    /// # Errors
    ///
    /// As [`Self::encode_at`].
    pub fn encode_tiled(
        &self,
        image: &RgbImage,
        quality: u8,
        tile: usize,
        threads: usize,
    ) -> Result<Encoded, CodecError> {
        self.queue_encode_tiled(image, quality, tile, threads)?
            .finish()
    }

    /// [`Self::encode_at`] up to the symbols, left on the backend ([`PendingEncode`]):
    /// for backends that read back asynchronously (WebGPU in a browser), the encoder and
    /// the quantizers run whole-image on the backend and nothing is read yet. A model
    /// whose channel order depends on the image (SE importance) reads its importance
    /// scores back here.
    ///
    /// # Errors
    ///
    /// As [`Self::encode_at`] (before the entropy coding).
    pub fn queue_encode(
        &self,
        image: &RgbImage,
        quality: u8,
    ) -> Result<PendingEncode<B>, CodecError> {
        self.queue_encode_tiled(image, quality, 0, 1)
    }

    /// Whether [`Self::queue_encode`] reads from the backend before its symbols: the
    /// channel order comes from the image (SE importance). A backend that cannot block
    /// cannot encode such a model.
    pub fn encode_reads_order(&self) -> bool {
        self.model.as_ref().is_some_and(Cvqn::order_from_image)
    }

    fn queue_encode_tiled(
        &self,
        image: &RgbImage,
        quality: u8,
        tile: usize,
        threads: usize,
    ) -> Result<PendingEncode<B>, CodecError> {
        let Some(model) = &self.model else {
            return Err(CodecError::DecoderOnly {
                model: self.id_string(),
            });
        };
        let rate = self.rate_point(quality)?;
        let entropy = match self.entropy.rate_points() {
            0 => self.entropy.clone(),
            _ => self.entropy.at_rate(rate)?,
        };
        let (lh, lw) = (image.height.div_ceil(STRIDE), image.width.div_ceil(STRIDE));
        let tiled = tile > 0 && (lh > tile || lw > tile);
        let latent = if tiled {
            self.analyze_tiled(image, tile, threads)?
        } else if let Some((kernels, threads)) = self.cpu_encoder() {
            let padded = image_region_maps(image, 0..lh * STRIDE, 0..lw * STRIDE);
            let latent = kernels
                .forward(padded, Means::Own, threads)
                .map_err(|_| CodecError::Weights("the encoder's kernels stopped".into()))?;
            maps_tensor(&latent, &self.device)
        } else {
            model
                .encoder
                .forward(image_to_tensor::<B>(image, &self.device))
        };
        let header = FileHeader {
            width: header_dimension(image.width)?,
            height: header_dimension(image.height)?,
            model: self.id.clone(),
            quality,
            entropy_model: self.entropy.kind(),
            permutation: cvq_bitstream::format::Permutation::identity(0),
            groups: Vec::new(),
        };
        let (symbols, layout) = queued_symbols(model, latent, rate);
        Ok(PendingEncode {
            symbols,
            writer: SymbolWriter {
                layout,
                entropy,
                header,
            },
        })
    }

    /// Entropy-decodes a complete file (`partial = false`) or a prefix of one
    /// (`partial = true`: groups not fully received are guessed).
    ///
    /// # Errors
    ///
    /// Container, model-identity, layout or entropy errors.
    pub fn decode_symbols(
        &self,
        bytes: &[u8],
        limits: &Limits,
        partial: bool,
    ) -> Result<DecodedSymbols, CodecError> {
        let (header, stored): (FileHeader, Vec<Option<&[u8]>>) = if partial {
            let p = read_prefix(bytes, limits)?;
            let n = p.header.groups.len();
            let mut v: Vec<Option<&[u8]>> = p.complete.iter().map(|s| Some(*s)).collect();
            v.resize(n, None);
            (p.header, v)
        } else {
            let f = read_file(bytes, limits)?;
            (f.header, f.payloads.into_iter().map(Some).collect())
        };
        if header.model != self.id {
            return Err(CodecError::WrongModel {
                file: header.model.to_string(),
                model: self.id_string(),
            });
        }
        let ContainerSymbols {
            symbols,
            order,
            groups_received,
        } = decode_stored(&self.entropy, &header, &stored)?;
        Ok(DecodedSymbols {
            header,
            symbols,
            order,
            groups_received,
        })
    }

    /// Synthesis: symbols → 8-bit RGB image, cropped to the header's size.
    ///
    /// # Errors
    ///
    /// Only on internal tensor read-back failures.
    pub fn synthesize(&self, decoded: &DecodedSymbols) -> Result<RgbImage, CodecError> {
        pixels_to_image(&decoded.header, self.synthesis_tensor(decoded).into_data())
    }

    /// The synthesis network's output for decoded symbols, on the model's device:
    /// `[1, 3, 16·lh, 16·lw]`, clamped to `[0, 255]` (not yet rounded or cropped).
    /// Backends that cannot read back synchronously (WebGPU in a browser) read this
    /// with `into_data_async` and finish with [`pixels_to_image`], as [`Self::synthesize`]
    /// does after a synchronous read.
    pub fn synthesis_tensor(&self, decoded: &DecodedSymbols) -> Tensor<B, 4> {
        let (lh, lw) = decoded.header.latent_size();
        self.synthesis_region(decoded, 0..lh as usize, 0..lw as usize)
    }

    /// The synthesis network run on the latent window `rows × cols` alone (zero padding
    /// at the window's edges, as at the image's): `[1, 3, 16·|rows|, 16·|cols|]`, clamped
    /// to `[0, 255]`. The whole latent is [`Self::synthesis_tensor`]; windows with a halo
    /// are what [`Self::synthesize_tiled`] stitches.
    ///
    /// `rows` and `cols` must lie inside the latent (`decode_symbols` output).
    pub fn synthesis_region(
        &self,
        decoded: &DecodedSymbols,
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
    ) -> Tensor<B, 4> {
        let code = self.region_code(decoded, rows, cols);
        if let Some(k) = &self.cpu
            && let Some(maps) = tensor_maps(code.clone())
        {
            let out = k
                .decoder
                .forward_span(maps, 0..STAGES, Means::Own, k.threads);
            if let Ok(image) = out {
                return to_pixels(maps_tensor(&image, &self.device));
            }
        }
        to_pixels(self.synthesis.decoder.forward(code))
    }

    /// The decoder stages `span` on one window (see [`Decoder::forward_span`]), with the
    /// channel attention given the whole image's means of the span's attention blocks
    /// (`means`, in forward order). `input` is the window's code
    /// ([`Self::region_code`]) for a span from stage 0, else the previous stage's output
    /// on the window; `threads` the threads of each convolution of the CPU kernels
    /// ([`Self::with_cpu_kernels`]). `Ok(output)` once `means` holds all the span's means — pixels
    /// clamped to `[0, 255]` for a span that ends the decoder — else `Err(features)`,
    /// the input of the next attention block on this window, whose whole-image mean
    /// comes next.
    ///
    /// [`Decoder::forward_span`]: crate::model::decoder::Decoder::forward_span
    ///
    /// # Errors
    ///
    /// None beyond the above (`Err` is a request for the next mean, not a failure).
    pub(crate) fn synthesis_span(
        &self,
        input: Tensor<B, 4>,
        span: std::ops::Range<usize>,
        means: &[Tensor<B, 2>],
        threads: usize,
    ) -> Result<Tensor<B, 4>, Features<B>> {
        let ends = span.end == STAGES;
        if let Some(kernels) = self.cpu.as_ref().map(|k| &k.decoder)
            && let Some(maps) = tensor_maps(input.clone())
            && let Some(given) = mean_values(means)
        {
            let out = kernels
                .forward_span(maps, span, Means::Given(&given), threads)
                .map_err(Features::Maps)?;
            let out = maps_tensor(&out, &self.device);
            return Ok(if ends { to_pixels(out) } else { out });
        }
        let mut pool = crate::model::layers::attention::GivenMeans::new(means);
        let out = self
            .synthesis
            .decoder
            .forward_span(input, span, &mut pool)
            .map_err(Features::Tensor)?;
        Ok(if ends { to_pixels(out) } else { out })
    }

    /// The decoder's input on the latent window `rows × cols`: `[1, C, |rows|, |cols|]`.
    pub(crate) fn region_code(
        &self,
        decoded: &DecodedSymbols,
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
    ) -> Tensor<B, 4> {
        let (lh, lw) = decoded.header.latent_size();
        let (lh, lw) = (lh as usize, lw as usize);
        let (th, tw) = (rows.len(), cols.len());
        let tensors = decoded
            .symbols
            .iter()
            .map(|s| {
                let c = s.len() / (lh * lw);
                let mut data: Vec<i64> = Vec::with_capacity(c * th * tw);
                for ch in 0..c {
                    for y in rows.clone() {
                        let row = (ch * lh + y) * lw;
                        data.extend(
                            s[row + cols.start..row + cols.end]
                                .iter()
                                .map(|&v| v as i64),
                        );
                    }
                }
                Tensor::<B, 4, Int>::from_data(TensorData::new(data, [1, c, th, tw]), &self.device)
            })
            .collect();
        let inverse = order_tensor::<B>(&inverse_order(&decoded.order), &self.device);
        // decode_symbols checked that a variable-rate file names one of its rate points
        // (symbols made otherwise are synthesised at the nearest one).
        let rate = match self.entropy.rate_points() {
            0 => 0,
            k => (usize::from(decoded.header.quality.max(1)) - 1).min(k - 1),
        };
        self.synthesis.code(
            &ChannelGroups::new(self.config.group_channels()),
            tensors,
            inverse,
            rate,
        )
    }

    /// Decodes a complete `.cvq` file with default [`Limits`].
    ///
    /// # Errors
    ///
    /// As [`CodecModel::decode_symbols`].
    pub fn decode(&self, bytes: &[u8]) -> Result<RgbImage, CodecError> {
        self.synthesize(&self.decode_symbols(bytes, &Limits::default(), false)?)
    }
}

/// Rounds the planar synthesis output `[1, 3, 16·lh, 16·lw]` read back from the device
/// (values in `[0, 255]`, see [`CodecModel::synthesis_tensor`]) to 8-bit RGB and crops it
/// to the header's size. Shared by the synchronous and the asynchronous read-back.
///
/// # Errors
///
/// [`CodecError::Weights`] if `data` is not float data of `3·16·lh·16·lw` values.
pub fn pixels_to_image(header: &FileHeader, data: TensorData) -> Result<RgbImage, CodecError> {
    let pixels = crate::tiling::f32_values(data)?;
    let (lh, lw) = header.latent_size();
    let (lh, lw) = (lh as usize, lw as usize);
    let whole = crate::tiling::Window {
        rows: 0..lh,
        cols: 0..lw,
        outer_rows: 0..lh,
        outer_cols: 0..lw,
    };
    let size = (header.width as usize, header.height as usize);
    Ok(crate::tiling::tile_of(&whole, &pixels, size, STRIDE)?.image)
}

/// Burn record bytes of a module (the model, or its synthesis half) at the given
/// precision.
///
/// # Errors
///
/// [`CodecError::Weights`] if the recorder fails.
pub fn record_bytes<B: Backend, M: Module<B>>(
    module: &M,
    precision: WeightPrecision,
) -> Result<Vec<u8>, CodecError> {
    let record = module.clone().into_record();
    match precision {
        WeightPrecision::F32 => {
            NamedMpkBytesRecorder::<FullPrecisionSettings>::default().record(record, ())
        }
        WeightPrecision::F16 => {
            NamedMpkBytesRecorder::<HalfPrecisionSettings>::default().record(record, ())
        }
    }
    .map_err(|e| CodecError::Weights(e.to_string()))
}

/// Loads a model file's weights into a freshly built module; the parameter count must
/// not change (a record of another architecture fails here).
pub(crate) fn load_weights<B: Backend, M: Module<B>>(
    fresh: M,
    weights: &[u8],
    precision: WeightPrecision,
    device: &B::Device,
) -> Result<M, CodecError> {
    let expected_params = fresh.num_params();
    let weights = weights.to_vec();
    let record = match precision {
        WeightPrecision::F32 => {
            NamedMpkBytesRecorder::<FullPrecisionSettings>::default().load(weights, device)
        }
        WeightPrecision::F16 => {
            NamedMpkBytesRecorder::<HalfPrecisionSettings>::default().load(weights, device)
        }
    }
    .map_err(|e| CodecError::Weights(e.to_string()))?;
    let module = fresh.load_record(record);
    if module.num_params() != expected_params {
        return Err(CodecError::Weights(
            "stored weights do not match the configuration".into(),
        ));
    }
    Ok(module)
}

/// The decoder's output (≈ `0..1`) as pixel values clamped to `[0, 255]`.
/// A `[1, C, H, W]` tensor's values as channels-last maps (`None` if unreadable).
fn tensor_maps<B: Backend>(t: Tensor<B, 4>) -> Option<Maps> {
    let [b, c, h, w] = t.dims();
    if b != 1 {
        return None;
    }
    Some(Maps::from_planes(&f32_values(t.into_data()).ok()?, c, h, w))
}

/// Channels-last maps as a `[1, C, H, W]` tensor on `device`.
pub(crate) fn maps_tensor<B: Backend>(m: &Maps, device: &B::Device) -> Tensor<B, 4> {
    Tensor::from_data(
        TensorData::new(m.to_planes(), [1, m.channels, m.height, m.width]),
        device,
    )
}

fn to_pixels<B: Backend>(image: Tensor<B, 4>) -> Tensor<B, 4> {
    image.clamp(0.0, 1.0).mul_scalar(255.0)
}
