//! Image ⇄ `.cvq` with a frozen recurrent model.
//!
//! ```text
//! encode: RGB8 (w×h) → pad to 16 (edge replication) → T iterations (deterministic
//!         binarizer) → codes of iteration t as bits [bits][h/16][w/16]
//!         → context-mixing bit model (earlier iterations', channels' and neighbours'
//!           bits as context) → payload t
//!         → .cvq: entropy model BinaryMixing, group t = iteration t (levels 2, `bits`
//!           channels; files of the first bit model, `Binary`, decode too)
//! decode: .cvq (or a prefix of whole iterations) → limits/CRC/model-id checks
//!         → bits of each received iteration → decoder iteration by iteration
//!         → clamp, round → crop to w×h
//! ```
//!
//! The bits are the only thing the decoder must reproduce exactly, and they are coded by
//! integer arithmetic; the float networks only turn them into pixels.

use burn::tensor::{Tensor, TensorData, backend::Backend};
use cvq_bitstream::format::{
    FileHeader, GroupHeader, Limits, ModelId, Permutation, read_file, read_prefix, write_file,
};
use cvq_entropy::binary::{BitModel, decode_planes, encode_planes};
use cvq_entropy::{ModelKind, RecurrentModelFile, WeightPrecision};

use cvq_kernels::Maps;

use super::config::RecurrentConfig;
use super::cpu::{CpuCellStates, CpuRecurrentDecoder, CpuRecurrentEncoder};
use super::{RecurrentCodec, RecurrentState};
use crate::codec::{
    CodecError, RgbImage, STRIDE, header_dimension, image_region_maps, image_to_tensor,
    load_weights, pixels_to_image, record_bytes,
};

/// A recurrent model ready to encode and decode.
#[derive(Debug)]
pub struct RecurrentCodecModel<B: Backend> {
    /// The networks.
    pub net: RecurrentCodec<B>,
    /// Their configuration.
    pub config: RecurrentConfig,
    /// Precision of the loaded weights.
    pub precision: WeightPrecision,
    /// Name and hash written into every `.cvq` file.
    pub id: ModelId,
    /// The decoder's channels-last CPU kernels, when on ([`Self::with_cpu_kernels`]).
    cpu: Option<CpuRecurrentDecoder>,
    /// The encoder's, when on (only together with the decoder's: an encode runs both).
    cpu_encoder: Option<CpuRecurrentEncoder>,
    device: B::Device,
}

/// The result of [`RecurrentCodecModel::encode`].
#[derive(Debug, Clone)]
pub struct RecurrentEncoded {
    /// The `.cvq` file.
    pub bytes: Vec<u8>,
    /// Payload bytes of each iteration, in order.
    pub payload_bytes: Vec<usize>,
}

/// A recurrent encode whose iterations are queued on the backend
/// ([`RecurrentCodecModel::queue_encode`]): read `codes` back (`into_data`, or
/// `into_data_async` where the backend cannot block) and hand the data to `writer`.
#[derive(Debug)]
pub struct PendingRecurrentEncode<B: Backend> {
    /// The codes (±1) of every iteration, `[1, T·bits, h/16, w/16]`, iteration by
    /// iteration.
    pub codes: Tensor<B, 4>,
    /// Turns the read-back codes into the file (no backend).
    pub writer: BitsWriter,
}

impl<B: Backend> PendingRecurrentEncode<B> {
    /// Reads the codes back (blocking) and writes the file.
    ///
    /// # Errors
    ///
    /// As [`BitsWriter::write`].
    pub fn finish(self) -> Result<RecurrentEncoded, CodecError> {
        self.writer.write(self.codes.into_data())
    }
}

/// The CPU half of a recurrent encode ([`PendingRecurrentEncode`]): codes the bits of
/// each iteration with the context-mixing bit model and writes the file.
#[derive(Debug, Clone)]
pub struct BitsWriter {
    header: FileHeader,
    /// `(bits, h/16, w/16)` of one iteration.
    shape: (usize, usize, usize),
}

impl BitsWriter {
    /// Entropy-codes the read-back codes (`data` of [`PendingRecurrentEncode::codes`])
    /// and writes the `.cvq` file.
    ///
    /// # Errors
    ///
    /// [`CodecError::Weights`] for data that is not the pending encode's; entropy or
    /// container errors.
    pub fn write(&self, data: TensorData) -> Result<RecurrentEncoded, CodecError> {
        self.write_bits(&codes_to_bits(data)?)
    }

    /// Entropy-codes the bits (`1` for +1) of every iteration, `[T·bits][h/16][w/16]`
    /// iteration by iteration, and writes the `.cvq` file.
    ///
    /// # Errors
    ///
    /// As [`Self::write`].
    pub fn write_bits(&self, bits: &[u8]) -> Result<RecurrentEncoded, CodecError> {
        let (b, h, w) = self.shape;
        let iterations = self.header.groups.len();
        if bits.len() != iterations * b * h * w {
            return Err(CodecError::Weights(format!(
                "the encoder gave {} codes, expected {}",
                bits.len(),
                iterations * b * h * w
            )));
        }
        let planes: Vec<&[u8]> = bits.chunks_exact(b * h * w).collect();
        let model = BitModel::of_kind(self.header.entropy_model).unwrap_or(BitModel::Mixing);
        let payloads = encode_planes(&planes, self.shape, model)?;
        Ok(RecurrentEncoded {
            bytes: write_file(&self.header, &payloads)?,
            payload_bytes: payloads.iter().map(Vec::len).collect(),
        })
    }
}

/// Bits decoded from a (possibly partial) file, before synthesis.
#[derive(Debug, Clone)]
pub struct DecodedBits {
    /// The file header.
    pub header: FileHeader,
    /// Bits (`0` for −1, `1` for +1) of each received iteration, `[bits][h/16][w/16]`.
    pub planes: Vec<Vec<u8>>,
    /// Iterations stored in the file (`planes.len()` of them were received).
    pub iterations: usize,
}

/// A recurrent file's reconstruction part-way: the iterations run so far, the decoder's
/// cell states and the image after them. Made by [`RecurrentCodecModel::progressive`],
/// moved on by [`RecurrentCodecModel::step`].
#[derive(Debug, Clone)]
pub struct ProgressiveDecode<B: Backend> {
    header: FileHeader,
    planes: Vec<Vec<u8>>,
    synthesis: Synthesis<B>,
}

/// Where a progressive decode's networks run.
#[derive(Debug, Clone)]
enum Synthesis<B: Backend> {
    /// The Burn modules on the model's backend.
    Burn {
        state: RecurrentState<B>,
        /// `[1, 3, H, W]` (padded size), values ≈ `0..1`.
        recon: Tensor<B, 4>,
    },
    /// The CPU kernels ([`RecurrentCodecModel::with_cpu_kernels`]).
    Cpu {
        state: CpuCellStates,
        /// `H × W × 3` (padded size), values ≈ `0..1`.
        recon: Maps,
        device: B::Device,
    },
}

impl<B: Backend> ProgressiveDecode<B> {
    /// Whether `decoded` is the same file with at least the iterations run so far (same
    /// header, the same bits in those iterations): then it can be advanced.
    pub fn continues(&self, decoded: &DecodedBits) -> bool {
        decoded.header == self.header
            && decoded.planes.len() >= self.planes.len()
            && decoded.planes[..self.planes.len()] == self.planes[..]
    }

    /// Iterations run so far.
    pub fn iterations_done(&self) -> usize {
        self.planes.len()
    }

    /// The header of the file being decoded.
    pub fn header(&self) -> &FileHeader {
        &self.header
    }
}

impl<B: Backend> RecurrentCodecModel<B> {
    /// Freezes trained networks: the model file they are saved as, and the codec loaded
    /// back from it (so encoding uses exactly the weights decoders load).
    ///
    /// # Errors
    ///
    /// An invalid configuration or a serialisation error.
    pub fn freeze(
        net: RecurrentCodec<B>,
        config: RecurrentConfig,
        precision: WeightPrecision,
        device: &B::Device,
    ) -> Result<(Self, RecurrentModelFile), CodecError> {
        config.validate()?;
        let file = RecurrentModelFile {
            kind: ModelKind::Full,
            name: config.name.clone(),
            config_json: serde_json::to_string(&config)
                .map_err(|e| CodecError::Weights(e.to_string()))?,
            precision,
            weights: record_bytes(&net, precision)?,
        };
        let codec = Self::from_model_file(&file, device)?;
        Ok((codec, file))
    }

    /// Loads a recurrent model file (`CVQR`).
    ///
    /// # Errors
    ///
    /// Parse, digest, configuration or weight errors.
    pub fn load(bytes: &[u8], device: &B::Device) -> Result<Self, CodecError> {
        let file = RecurrentModelFile::from_bytes(bytes)?;
        // the digest is verified: the hash it states is the file's (no second pass)
        let hash = cvq_entropy::model_identity(bytes)?.hash;
        Self::build(&file, hash, device)
    }

    /// Builds the codec from a parsed model file.
    ///
    /// # Errors
    ///
    /// Configuration or weight errors.
    pub fn from_model_file(
        file: &RecurrentModelFile,
        device: &B::Device,
    ) -> Result<Self, CodecError> {
        Self::build(file, file.hash()?, device)
    }

    /// [`Self::from_model_file`] with the file's model hash already known.
    fn build(
        file: &RecurrentModelFile,
        hash: [u8; 8],
        device: &B::Device,
    ) -> Result<Self, CodecError> {
        let config: RecurrentConfig = serde_json::from_str(&file.config_json)
            .map_err(|e| CodecError::Weights(format!("config JSON: {e}")))?;
        let fresh = RecurrentCodec::new(&config, device)?;
        let fresh = match file.kind {
            ModelKind::Full => fresh,
            ModelKind::DecoderOnly { .. } => fresh.without_encoder(),
        };
        let net = load_weights(fresh, &file.weights, file.precision, device)?;
        Ok(Self {
            net,
            config,
            precision: file.precision,
            id: ModelId::new(file.name.clone(), hash)?,
            cpu: None,
            cpu_encoder: None,
            device: device.clone(),
        })
    }

    /// Encodes and decodes with the networks' channels-last CPU kernels ([`super::cpu`])
    /// instead of the Burn modules, each convolution on `threads` threads: for tools whose
    /// backend runs on the CPU. Pixels may differ from the Burn path's by ±1 where float
    /// rounding tips them, and a code whose binarizer output is within rounding of 0 may
    /// take the other sign; the kernels give the same pixels on every target. A
    /// residual-scaling model keeps the Burn path.
    pub fn with_cpu_kernels(mut self, threads: usize) -> Self {
        self.cpu = self.net.cpu_decoder(threads);
        self.cpu_encoder = self
            .cpu
            .as_ref()
            .and_then(|_| self.net.cpu_encoder(threads));
        self
    }

    /// Whether decoding runs on the CPU kernels ([`Self::with_cpu_kernels`]).
    pub fn uses_cpu_kernels(&self) -> bool {
        self.cpu.is_some()
    }

    /// `name#hash` of the model.
    pub fn id_string(&self) -> String {
        self.id.to_string()
    }

    /// The device the networks live on.
    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// Whether this model can encode (false for a decoder-only `.cvqd`).
    pub fn can_encode(&self) -> bool {
        self.net.has_encoder()
    }

    /// The decoder-only model file (`.cvqd`, magic `CVRD`) of this model: the networks
    /// without the encoder's cells, carrying this model's id, so its files decode with
    /// it bit for bit. About half the size of the full file for the `rnn-compact` widths.
    ///
    /// # Errors
    ///
    /// Serialisation errors.
    pub fn decoder_only_file(&self) -> Result<RecurrentModelFile, CodecError> {
        Ok(RecurrentModelFile {
            kind: ModelKind::DecoderOnly {
                model_hash: self.id.hash,
            },
            name: self.id.name.clone(),
            config_json: serde_json::to_string(&self.config)
                .map_err(|e| CodecError::Weights(e.to_string()))?,
            precision: self.precision,
            weights: record_bytes(&self.net.clone().without_encoder(), self.precision)?,
        })
    }

    fn check_iterations(&self, iterations: usize) -> Result<(), CodecError> {
        if iterations == 0 || iterations > self.config.iterations {
            return Err(CodecError::Iterations {
                asked: iterations,
                max: self.config.iterations,
                model: self.id_string(),
            });
        }
        Ok(())
    }

    /// Encodes `image` with `iterations` iterations (`1..=config.iterations`).
    ///
    /// # Errors
    ///
    /// [`CodecError::DecoderOnly`] for a decoder-only model, [`CodecError::Iterations`],
    /// or entropy / container errors (an image beyond the format's limits).
    pub fn encode(
        &self,
        image: &RgbImage,
        iterations: usize,
    ) -> Result<RecurrentEncoded, CodecError> {
        let writer = self.bits_writer(image, iterations)?;
        match (&self.cpu_encoder, &self.cpu) {
            (Some(enc), Some(dec)) => writer.write_bits(&cpu_bits(enc, dec, image, iterations)),
            _ => writer.write(self.burn_codes(image, iterations).into_data()),
        }
    }

    /// The writer of `image`'s file with `iterations` iterations, once the model can
    /// encode them.
    fn bits_writer(&self, image: &RgbImage, iterations: usize) -> Result<BitsWriter, CodecError> {
        if !self.can_encode() {
            return Err(CodecError::DecoderOnly {
                model: self.id_string(),
            });
        }
        self.check_iterations(iterations)?;
        Ok(BitsWriter {
            header: self.header(image.width, image.height, iterations)?,
            shape: (
                self.config.bits,
                image.height.div_ceil(STRIDE),
                image.width.div_ceil(STRIDE),
            ),
        })
    }

    /// [`Self::encode`] up to the codes, left on the backend ([`PendingRecurrentEncode`]):
    /// every iteration is queued, nothing is read back yet (for backends that read back
    /// asynchronously, as WebGPU in a browser).
    ///
    /// # Errors
    ///
    /// As [`Self::encode`] (before the entropy coding).
    pub fn queue_encode(
        &self,
        image: &RgbImage,
        iterations: usize,
    ) -> Result<PendingRecurrentEncode<B>, CodecError> {
        let writer = self.bits_writer(image, iterations)?;
        if let (Some(enc), Some(dec)) = (&self.cpu_encoder, &self.cpu) {
            let (_, lh, lw) = writer.shape;
            let codes = code_values(&cpu_bits(enc, dec, image, iterations));
            let shape = [1, iterations * self.config.bits, lh, lw];
            return Ok(PendingRecurrentEncode {
                codes: Tensor::from_data(TensorData::new(codes, shape), &self.device),
                writer,
            });
        }
        Ok(PendingRecurrentEncode {
            codes: self.burn_codes(image, iterations),
            writer,
        })
    }

    /// The codes (±1) of every iteration on the Burn modules, `[1, T·bits, h/16, w/16]`,
    /// queued on the backend.
    fn burn_codes(&self, image: &RgbImage, iterations: usize) -> Tensor<B, 4> {
        let x = image_to_tensor::<B>(image, &self.device);
        let mut state = RecurrentState::default();
        let mut recon = RecurrentCodec::<B>::initial_reconstruction(x.dims(), &self.device);
        let mut codes = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let (c, next) = self.net.iterate(x.clone(), recon, &mut state, false);
            recon = next;
            codes.push(c);
        }
        Tensor::cat(codes, 1)
    }

    fn header(
        &self,
        width: usize,
        height: usize,
        iterations: usize,
    ) -> Result<FileHeader, CodecError> {
        let bits = self.config.bits;
        Ok(FileHeader {
            width: header_dimension(width)?,
            height: header_dimension(height)?,
            model: self.id.clone(),
            quality: u8::try_from(iterations).unwrap_or(u8::MAX),
            entropy_model: BitModel::Mixing.kind(),
            permutation: Permutation::identity(
                u32::try_from(iterations * bits)
                    .map_err(|_| CodecError::BadImage("too many codes".into()))?,
            ),
            groups: vec![
                GroupHeader {
                    levels: 2,
                    channels: bits as u32,
                };
                iterations
            ],
        })
    }

    /// The file [`encode`](Self::encode) writes with `iterations` iterations, cut from a
    /// file of at least as many (the codes of an iteration do not depend on later
    /// ones, so the payloads are the same; tested): one encode serves every iteration
    /// count.
    ///
    /// # Errors
    ///
    /// Container errors, a CVQN file, or a file with fewer iterations.
    pub fn truncate_iterations(
        &self,
        bytes: &[u8],
        iterations: usize,
        limits: &Limits,
    ) -> Result<Vec<u8>, CodecError> {
        let file = read_file(bytes, limits)?;
        if !file.header.entropy_model.is_binary() {
            return Err(self.cvqn_file(&file.header));
        }
        if iterations == 0 || iterations > file.payloads.len() {
            return Err(CodecError::Iterations {
                asked: iterations,
                max: file.payloads.len(),
                model: file.header.model.to_string(),
            });
        }
        let mut header = self.header(
            file.header.width as usize,
            file.header.height as usize,
            iterations,
        )?;
        header.model = file.header.model;
        header.entropy_model = file.header.entropy_model;
        Ok(write_file(&header, &file.payloads[..iterations])?)
    }

    /// The error for a file of the other family (`header` names a CVQN model).
    fn cvqn_file(&self, header: &FileHeader) -> CodecError {
        CodecError::WrongFamily(format!(
            "this file was written by a CVQN model ({}); {} is a recurrent model",
            header.model,
            self.id_string()
        ))
    }

    /// Entropy-decodes the bits of a file (`partial`: a prefix of it; the iterations
    /// whose payload is complete).
    ///
    /// # Errors
    ///
    /// Container or model-identity errors, a file of the other codec family or of other
    /// widths, entropy errors.
    pub fn decode_bits(
        &self,
        bytes: &[u8],
        limits: &Limits,
        partial: bool,
    ) -> Result<DecodedBits, CodecError> {
        let (header, payloads): (FileHeader, Vec<&[u8]>) = if partial {
            let p = read_prefix(bytes, limits)?;
            (p.header, p.complete)
        } else {
            let f = read_file(bytes, limits)?;
            (f.header, f.payloads)
        };
        let Some(model) = BitModel::of_kind(header.entropy_model) else {
            return Err(self.cvqn_file(&header));
        };
        if header.model != self.id {
            return Err(CodecError::WrongModel {
                file: header.model.to_string(),
                model: self.id_string(),
            });
        }
        let bits = self.config.bits;
        if header.groups.iter().any(|g| g.channels as usize != bits) {
            return Err(CodecError::Weights(format!(
                "file groups are not {bits} codes wide like the model's iterations"
            )));
        }
        let (lh, lw) = header.latent_size();
        let shape = (bits, lh as usize, lw as usize);
        let planes = decode_planes(&payloads, shape, model)?;
        Ok(DecodedBits {
            iterations: header.groups.len(),
            header,
            planes,
        })
    }

    /// The reconstruction after each received iteration, in order: `each(t, image)` is
    /// called with the image after iterations `0..=t` (a viewer paints each).
    ///
    /// # Errors
    ///
    /// Only on internal tensor read-back failures.
    pub fn reconstruct_each(
        &self,
        decoded: &DecodedBits,
        mut each: impl FnMut(usize, RgbImage),
    ) -> Result<(), CodecError> {
        let mut progress = self.progressive(&decoded.header);
        while self.step(&mut progress, decoded)? {
            each(progress.iterations_done() - 1, self.image(&progress)?);
        }
        Ok(())
    }

    /// The final reconstruction of the received iterations (mid grey if none).
    ///
    /// # Errors
    ///
    /// As [`reconstruct_each`](Self::reconstruct_each).
    pub fn reconstruct(&self, decoded: &DecodedBits) -> Result<RgbImage, CodecError> {
        let mut progress = self.progressive(&decoded.header);
        while self.step(&mut progress, decoded)? {}
        self.image(&progress)
    }

    /// A reconstruction of the file with `header` before any iteration (mid grey), to
    /// be carried across calls while more of the file arrives: [`step`](Self::step)
    /// runs only the iterations it has not run yet, so decoding a stream prefix by prefix
    /// costs each iteration once instead of `1 + 2 + … + T` iterations.
    pub fn progressive(&self, header: &FileHeader) -> ProgressiveDecode<B> {
        let (lh, lw) = header.latent_size();
        let (h, w) = (lh as usize * STRIDE, lw as usize * STRIDE);
        let synthesis = match self.cpu {
            Some(_) => Synthesis::Cpu {
                state: Vec::new(),
                recon: CpuRecurrentDecoder::initial_reconstruction(h, w),
                device: self.device.clone(),
            },
            None => Synthesis::Burn {
                state: RecurrentState::default(),
                recon: RecurrentCodec::<B>::initial_reconstruction([1, 3, h, w], &self.device),
            },
        };
        ProgressiveDecode {
            header: header.clone(),
            planes: Vec::new(),
            synthesis,
        }
    }

    /// Runs the next iteration of `decoded` that `progress` has not run yet; `false` when
    /// there is none (all received iterations are done).
    ///
    /// # Errors
    ///
    /// [`CodecError::BadImage`] if `decoded` is not a continuation of what `progress`
    /// has run ([`ProgressiveDecode::continues`]).
    pub fn step(
        &self,
        progress: &mut ProgressiveDecode<B>,
        decoded: &DecodedBits,
    ) -> Result<bool, CodecError> {
        if !progress.continues(decoded) {
            return Err(CodecError::BadImage(
                "these bits do not continue the file being decoded progressively".into(),
            ));
        }
        let Some(plane) = decoded.planes.get(progress.planes.len()) else {
            return Ok(false);
        };
        let (lh, lw) = decoded.header.latent_size();
        let shape = [1, self.config.bits, lh as usize, lw as usize];
        match (&mut progress.synthesis, &self.cpu) {
            (Synthesis::Cpu { state, recon, .. }, Some(cpu)) => {
                let codes = Maps::from_planes(&code_values(plane), shape[1], shape[2], shape[3]);
                cpu.decode_iteration(&codes, recon, state);
            }
            (Synthesis::Burn { state, recon }, _) => {
                let codes =
                    Tensor::from_data(TensorData::new(code_values(plane), shape), &self.device);
                *recon = self.net.decode_iteration(codes, recon.clone(), state);
            }
            (Synthesis::Cpu { .. }, None) => {
                return Err(CodecError::BadImage(
                    "this progressive decode was started by a model with CPU kernels".into(),
                ));
            }
        }
        progress.planes.push(plane.clone());
        Ok(true)
    }

    /// The image after the iterations `progress` has run (mid grey before the first).
    ///
    /// # Errors
    ///
    /// Tensor read-back failures.
    pub fn image(&self, progress: &ProgressiveDecode<B>) -> Result<RgbImage, CodecError> {
        let data = match &progress.synthesis {
            Synthesis::Cpu { recon, .. } => cpu_pixels(recon),
            Synthesis::Burn { .. } => Self::pixels(progress).into_data(),
        };
        pixels_to_image(&progress.header, data)
    }

    /// The image after the iterations `progress` has run as a tensor still on the
    /// device, `[1, 3, H, W]` at the padded size, values ≈ `0..255`: what
    /// [`pixels_to_image`] rounds and crops. For backends that read back asynchronously
    /// (WebGPU); [`image`](Self::image) reads it back at once.
    pub fn pixels(progress: &ProgressiveDecode<B>) -> Tensor<B, 4> {
        match &progress.synthesis {
            Synthesis::Burn { recon, .. } => recon.clone().mul_scalar(255.0),
            Synthesis::Cpu { recon, device, .. } => Tensor::from_data(cpu_pixels(recon), device),
        }
    }

    /// Decodes a complete `.cvq` file with default [`Limits`].
    ///
    /// # Errors
    ///
    /// As [`decode_bits`](Self::decode_bits).
    pub fn decode(&self, bytes: &[u8]) -> Result<RgbImage, CodecError> {
        self.reconstruct(&self.decode_bits(bytes, &Limits::default(), false)?)
    }
}

/// [`RecurrentCodecModel::encode`]'s codes on the CPU kernels: the bits (`1` for +1) of
/// every iteration, channels-first `[T·bits][H/16][W/16]`, iteration by iteration.
fn cpu_bits(
    enc: &CpuRecurrentEncoder,
    dec: &CpuRecurrentDecoder,
    image: &RgbImage,
    iterations: usize,
) -> Vec<u8> {
    let (ph, pw) = (
        image.height.div_ceil(STRIDE) * STRIDE,
        image.width.div_ceil(STRIDE) * STRIDE,
    );
    let x = image_region_maps(image, 0..ph, 0..pw);
    let mut recon = CpuRecurrentDecoder::initial_reconstruction(ph, pw);
    let mut residual = Maps::zeros(ph, pw, 3);
    let (mut enc_state, mut dec_state) = (Vec::new(), Vec::new());
    let mut codes = Vec::new();
    for _ in 0..iterations {
        for ((r, a), b) in residual.data.iter_mut().zip(&x.data).zip(&recon.data) {
            *r = a - b;
        }
        let c = enc.encode_step(&residual, &mut enc_state);
        dec.decode_iteration(&c, &mut recon, &mut dec_state);
        codes.extend(c.to_planes().iter().map(|&v| u8::from(v > 0.0)));
    }
    codes
}

/// Codes `[1, bits, h, w]` (±1) read back as bits (`1` for +1).
fn codes_to_bits(data: TensorData) -> Result<Vec<u8>, CodecError> {
    Ok(crate::tiling::f32_values(data)?
        .iter()
        .map(|&v| u8::from(v > 0.0))
        .collect())
}

/// Bits back to codes ±1 (`1` → +1), in the plane's order.
fn code_values(plane: &[u8]) -> Vec<f32> {
    plane
        .iter()
        .map(|&b| if b == 1 { 1.0 } else { -1.0 })
        .collect()
}

/// A CPU reconstruction as the pixels [`pixels_to_image`] reads: `[1, 3, H, W]`, values
/// ≈ `0..255`.
fn cpu_pixels(recon: &Maps) -> TensorData {
    let planes: Vec<f32> = recon.to_planes().iter().map(|v| v * 255.0).collect();
    TensorData::new(planes, [1, 3, recon.height, recon.width])
}
