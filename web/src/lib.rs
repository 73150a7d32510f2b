//! Browser bindings for cvq: the npm package `cvq-web` (built with
//! `scripts/build-web.sh`; `wasm-pack build web --target web` alone gives the CPU build).
//!
//! ```js
//! import init, { Codec } from "cvq-web";          // node_modules/cvq-web/cvq_web.js
//! await init();
//! const codec = Codec.embedded();                 // decoder-only default model (.cvqd)
//! const img = codec.decode(new Uint8Array(cvq));  // throws Error("…typed message…")
//! ctx.putImageData(new ImageData(img.rgba, img.width, img.height), 0, 0);
//! const full = new Codec(new Uint8Array(cvqmBytes));  // a full .cvqm can also encode
//! const bytes = full.encode(imageData.data, w, h, full.quality);
//! ```
//!
//! Synthesis runs on Burn's Flex CPU backend (no threads on `wasm32-unknown-unknown`);
//! entropy coding is the integer model of `cvq-entropy`, identical on every target.
//! Every error becomes a JS `Error` whose message is the typed error's text.
#![forbid(unsafe_code)]

use burn::tensor::{Tensor, backend::Backend};
use cvq_bitstream::format::{FormatError, Limits, read_prefix};
use cvq_core::codec::{CodecError, DecodedSymbols, RgbImage, pixels_to_image};
use cvq_core::complexity::complexity;
use cvq_core::config::{CvqnConfig, Preset};
use cvq_core::entropy::ModelFamily;
use cvq_core::loaded::LoadedModel;
use cvq_core::metrics::{MetricError, ms_ssim_rgb8, psnr_rgb8};
use cvq_core::recurrent::codec::{DecodedBits, ProgressiveDecode, RecurrentCodecModel};
use cvq_core::tiling::DecodedTile;
use std::cell::RefCell;
use wasm_bindgen::Clamped;
use wasm_bindgen::prelude::*;

#[cfg(feature = "webgpu")]
pub mod gpu;

/// Makes Rust panics readable in the browser: the message goes to `console.error`
/// before the module traps (an unreachable trap alone says nothing). Runs when the
/// module is instantiated.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen(start)]
fn install_panic_message() {
    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_namespace = console, js_name = error)]
        fn console_error(message: &str);
    }
    std::panic::set_hook(Box::new(|info| {
        console_error(&format!("cvq (wasm) panicked: {info}"))
    }));
}

/// The backend that runs synthesis (and analysis for `encode`) in WASM.
pub type Cpu = burn::backend::Flex;

/// The default model compiled into the module, decoder-only
/// (`models/cvq-compact-q3.cvqd`, 1.46 MB, cut from `cvq-compact-q3.cvqm` by
/// `cvq-train decoder-only`): decodes the default model's files; encoding needs the
/// full `.cvqm` loaded with `new Codec(bytes)`. Present with the `embedded-model`
/// feature (on by default).
#[cfg(feature = "embedded-model")]
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../../models/cvq-compact-q3.cvqd");

/// JSON description of a preset: its config and its parameters / MACs per sub-network.
/// Throws (a JS exception with the typed message) for an unknown preset name.
#[wasm_bindgen(js_name = presetInfo)]
pub fn preset_info(name: &str) -> Result<String, JsError> {
    let cfg = CvqnConfig::preset(name.parse::<Preset>()?);
    Ok(serde_json::json!({ "config": cfg, "complexity": complexity(&cfg) }).to_string())
}

/// Names of the available presets.
#[wasm_bindgen(js_name = presetNames)]
pub fn preset_names() -> Vec<String> {
    Preset::ALL.iter().map(|p| p.name().to_string()).collect()
}

/// Whether this build has the default model compiled in.
#[wasm_bindgen(js_name = hasEmbeddedModel)]
pub fn has_embedded_model() -> bool {
    cfg!(feature = "embedded-model")
}

/// A decoded image: RGBA rows top to bottom, ready for `new ImageData(rgba, width, height)`.
#[wasm_bindgen]
#[derive(Debug, Clone)]
pub struct DecodedImage {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
    groups_received: u32,
    groups: u32,
    x: u32,
    y: u32,
}

#[wasm_bindgen]
impl DecodedImage {
    /// Left edge in the image, in pixels: 0, except for the tiles of
    /// `Codec.decodeTiles` (`ctx.putImageData(new ImageData(t.rgba, t.width, t.height),
    /// t.x, t.y)`).
    #[wasm_bindgen(getter)]
    pub fn x(&self) -> u32 {
        self.x
    }

    /// Top edge in the image, in pixels (see `x`).
    #[wasm_bindgen(getter)]
    pub fn y(&self) -> u32 {
        self.y
    }

    /// Width in pixels.
    #[wasm_bindgen(getter)]
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    #[wasm_bindgen(getter)]
    pub fn height(&self) -> u32 {
        self.height
    }

    /// RGBA bytes (alpha 255) as a `Uint8ClampedArray` (a copy).
    #[wasm_bindgen(getter)]
    pub fn rgba(&self) -> Clamped<Vec<u8>> {
        Clamped(self.rgba.clone())
    }

    /// Groups decoded from their payloads (fewer than `groups` for a preview).
    #[wasm_bindgen(getter, js_name = groupsReceived)]
    pub fn groups_received(&self) -> u32 {
        self.groups_received
    }

    /// Groups in the file.
    #[wasm_bindgen(getter)]
    pub fn groups(&self) -> u32 {
        self.groups
    }
}

impl DecodedImage {
    /// The synthesized image of `symbols` (decoded from a whole file or a prefix), as
    /// RGBA with the group counts. Both synthesis paths (CPU, WebGPU) end here.
    pub fn new(image: &RgbImage, symbols: &DecodedSymbols) -> Self {
        Self::with_groups(image, symbols.groups_received, symbols.header.groups.len())
    }

    /// `image` as RGBA, after `received` of the file's `groups` groups (a recurrent
    /// file's iterations).
    pub fn with_groups(image: &RgbImage, received: usize, groups: usize) -> Self {
        Self {
            width: image.width as u32,
            height: image.height as u32,
            rgba: rgb_to_rgba(&image.data),
            groups_received: received as u32,
            groups: groups as u32,
            x: 0,
            y: 0,
        }
    }

    /// A tile of [`CodecModel::synthesize_tiles`](cvq_core::codec::CodecModel) as RGBA,
    /// placed at its position, after `received` of the file's `groups` groups.
    pub fn tile(tile: &DecodedTile, received: usize, groups: usize) -> Self {
        Self {
            x: tile.x as u32,
            y: tile.y as u32,
            ..Self::with_groups(&tile.image, received, groups)
        }
    }

    /// `(x, y, width, height)`: where the image (a tile) goes.
    pub fn rect(&self) -> (u32, u32, u32, u32) {
        (self.x, self.y, self.width, self.height)
    }

    /// The RGBA bytes without copying (Rust callers and tests).
    pub fn rgba_bytes(&self) -> &[u8] {
        &self.rgba
    }
}

/// Runs `decode`, handing every image it makes to the JS function `paint`; after the
/// first exception `paint` is not called again and the exception is the error.
fn painting<T>(
    paint: &js_sys::Function,
    decode: impl FnOnce(&mut dyn FnMut(DecodedImage)) -> Result<T, CodecError>,
) -> Result<T, JsError> {
    let mut failed: Option<JsValue> = None;
    let out = decode(&mut |img| {
        if failed.is_none()
            && let Err(e) = paint.call1(&JsValue::NULL, &JsValue::from(img))
        {
            failed = Some(e);
        }
    })?;
    match failed {
        Some(e) => Err(JsError::new(&format!("paint callback threw: {e:?}"))),
        None => Ok(out),
    }
}

/// RGB → RGBA with opaque alpha.
pub fn rgb_to_rgba(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect()
}

/// RGBA → RGB (alpha is dropped: the codec has no alpha channel).
pub fn rgba_to_rgb(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect()
}

/// What a (possibly incomplete) `.cvq` prefix holds, read from its header without
/// entropy decoding: lets a streaming reader decode only when a group completes.
#[wasm_bindgen]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    header_complete: bool,
    model: String,
    width: u32,
    height: u32,
    groups: u32,
    groups_complete: u32,
    file_len: u32,
}

#[wasm_bindgen]
impl FileInfo {
    /// Whether the prefix holds the whole header (else every other field is 0).
    #[wasm_bindgen(getter, js_name = headerComplete)]
    pub fn header_complete(&self) -> bool {
        self.header_complete
    }

    /// `name#hash` of the model that wrote the file (what [`Codec::id`] of the model
    /// that decodes it returns); empty while the header is incomplete.
    #[wasm_bindgen(getter)]
    pub fn model(&self) -> String {
        self.model.clone()
    }

    /// Image width in pixels.
    #[wasm_bindgen(getter)]
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Image height in pixels.
    #[wasm_bindgen(getter)]
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Groups in the file.
    #[wasm_bindgen(getter)]
    pub fn groups(&self) -> u32 {
        self.groups
    }

    /// Leading groups whose payload is complete in this prefix.
    #[wasm_bindgen(getter, js_name = groupsComplete)]
    pub fn groups_complete(&self) -> u32 {
        self.groups_complete
    }

    /// Length of the whole file in bytes, from the header.
    #[wasm_bindgen(getter, js_name = fileLength)]
    pub fn file_len(&self) -> u32 {
        self.file_len
    }
}

/// Reads the header of a `.cvq` prefix (any length, from 0 bytes to the whole file).
/// Throws only for bytes that cannot be a `.cvq` file (bad magic, CRC, limits, …); a
/// prefix too short for the header gives `headerComplete = false`.
#[wasm_bindgen]
pub fn inspect(bytes: &[u8]) -> Result<FileInfo, JsError> {
    Ok(inspect_prefix(bytes)?)
}

/// [`inspect`] for Rust callers.
///
/// # Errors
///
/// Any [`FormatError`] except [`FormatError::Truncated`] while the header is incomplete.
pub fn inspect_prefix(bytes: &[u8]) -> Result<FileInfo, FormatError> {
    match read_prefix(bytes, &Limits::default()) {
        Ok(p) => Ok(FileInfo {
            header_complete: true,
            model: p.header.model.to_string(),
            width: p.header.width,
            height: p.header.height,
            groups: p.header.groups.len() as u32,
            groups_complete: p.complete_groups() as u32,
            file_len: p.file_len as u32,
        }),
        Err(FormatError::Truncated { .. }) => Ok(FileInfo {
            header_complete: false,
            model: String::new(),
            width: 0,
            height: 0,
            groups: 0,
            groups_complete: 0,
            file_len: 0,
        }),
        Err(e) => Err(e),
    }
}

/// Quality of `distorted` against `reference` (two RGBA buffers of `width × height`,
/// alpha ignored): PSNR in dB and MS-SSIM (`undefined` below 161 px on a side).
#[wasm_bindgen]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// PSNR in dB over R, G, B (peak 255); `Infinity` for identical images.
    pub psnr: f64,
    /// MS-SSIM in `[0, 1]`, or `None` for images smaller than 161 px on a side.
    #[wasm_bindgen(js_name = msSsim)]
    pub ms_ssim: Option<f64>,
}

/// Compares two RGBA images (e.g. the original and the decoded `ImageData.data`).
/// Throws if a buffer is not `4·width·height` bytes.
#[wasm_bindgen]
pub fn compare(
    reference: &[u8],
    distorted: &[u8],
    width: u32,
    height: u32,
) -> Result<Metrics, JsError> {
    Ok(compare_rgba(reference, distorted, width, height)?)
}

/// [`compare`] for Rust callers.
///
/// # Errors
///
/// [`CodecError::BadImage`] for buffers that are not `4·width·height` bytes or an
/// empty image.
pub fn compare_rgba(
    reference: &[u8],
    distorted: &[u8],
    width: u32,
    height: u32,
) -> Result<Metrics, CodecError> {
    check_rgba(reference, width, height)?;
    check_rgba(distorted, width, height)?;
    let (w, h) = (width as usize, height as usize);
    let (a, b) = (rgba_to_rgb(reference), rgba_to_rgb(distorted));
    let bad = |e: MetricError| CodecError::BadImage(e.to_string());
    let psnr = psnr_rgb8(&a, &b, w, h).map_err(bad)?;
    let ms_ssim = match ms_ssim_rgb8(&a, &b, w, h) {
        Ok(v) => Some(v),
        Err(MetricError::ImageTooSmall { .. }) => None,
        Err(e) => return Err(bad(e)),
    };
    Ok(Metrics { psnr, ms_ssim })
}

/// The error of a tiled decode with a recurrent model.
fn tiles_need_cvqn() -> CodecError {
    CodecError::WrongFamily(
        "tiled decoding is for CVQN files; recurrent files decode iteration by iteration \
         (decodePartial)"
            .into(),
    )
}

/// Checks that `rgba` holds a `width × height` RGBA image.
fn check_rgba(rgba: &[u8], width: u32, height: u32) -> Result<(), CodecError> {
    let (w, h) = (width as usize, height as usize);
    if w.checked_mul(h).and_then(|p| p.checked_mul(4)) != Some(rgba.len()) {
        return Err(CodecError::BadImage(format!(
            "{w}×{h} RGBA image needs 4·w·h bytes, got {}",
            rgba.len()
        )));
    }
    Ok(())
}

/// RGBA pixels (`ImageData.data`, alpha ignored) as the image to encode.
///
/// # Errors
///
/// [`CodecError::BadImage`] for a buffer that is not `4·width·height` bytes or an
/// empty image.
pub fn rgba_image(rgba: &[u8], width: u32, height: u32) -> Result<RgbImage, CodecError> {
    check_rgba(rgba, width, height)?;
    RgbImage::new(width as usize, height as usize, rgba_to_rgb(rgba))
}

/// A loaded model: decodes `.cvq` files it made and encodes at its rate point. Either
/// codec family: CVQN (qualities are rate points) or the recurrent progressive codec
/// (qualities are iteration counts; `decodeEach` paints every iteration).
#[wasm_bindgen]
#[derive(Debug)]
pub struct Codec {
    model: LoadedModel<Cpu>,
    streams: Streams<Cpu>,
}

/// Recurrent files being decoded prefix by prefix (a stream): each continues where the
/// last call stopped, so a stream of `T` iterations runs `T` decoder iterations in all,
/// not `1 + 2 + … + T`. Most recent last; dropped once complete. Used by both synthesis
/// paths ([`Codec`] on the CPU, `GpuCodec` on WebGPU).
#[derive(Debug)]
pub struct Streams<B: Backend>(RefCell<Vec<ProgressiveDecode<B>>>);

impl<B: Backend> Default for Streams<B> {
    fn default() -> Self {
        Self(RefCell::default())
    }
}

/// `"cvqn"` or `"recurrent"`: a model's family as the JS API names it.
pub fn family_name<B: Backend>(model: &LoadedModel<B>) -> &'static str {
    match model.family() {
        ModelFamily::Cvqn => "cvqn",
        ModelFamily::Recurrent => "recurrent",
    }
}

/// Streams kept going at once (e.g. several `<cvq-img>` loading together); beyond it
/// the oldest starts over if it comes back.
const MAX_STREAMS: usize = 4;

impl<B: Backend> Streams<B> {
    /// Runs the received iterations of `bits` that the stream it continues (if any) has
    /// not run yet; returns the image after them as an unread tensor
    /// ([`RecurrentCodecModel::pixels`]: `[1, 3, H, W]`, padded, ≈ `0..255`).
    ///
    /// # Errors
    ///
    /// As [`RecurrentCodecModel::step`].
    pub fn advance(
        &self,
        m: &RecurrentCodecModel<B>,
        bits: &DecodedBits,
    ) -> Result<Tensor<B, 4>, CodecError> {
        let mut streams = self.0.borrow_mut();
        let mut progress = match streams.iter().position(|p| p.continues(bits)) {
            Some(i) => streams.remove(i),
            None => m.progressive(&bits.header),
        };
        while m.step(&mut progress, bits)? {}
        let pixels = RecurrentCodecModel::pixels(&progress);
        if bits.planes.len() < bits.iterations {
            streams.push(progress);
            if streams.len() > MAX_STREAMS {
                streams.remove(0);
            }
        }
        Ok(pixels)
    }
}

#[wasm_bindgen]
impl Codec {
    /// Loads a model file (e.g. fetched from a URL): a full `.cvqm` of either family, or
    /// a decoder-only `.cvqd`. Throws on a corrupt file.
    #[wasm_bindgen(constructor)]
    pub fn new(model_bytes: &[u8]) -> Result<Codec, JsError> {
        Ok(Self::load(model_bytes)?)
    }

    /// The default model compiled into this module. Throws if the build has none.
    pub fn embedded() -> Result<Codec, JsError> {
        #[cfg(feature = "embedded-model")]
        {
            Ok(Self::load(EMBEDDED_MODEL)?)
        }
        #[cfg(not(feature = "embedded-model"))]
        {
            Err(JsError::new(
                "no model is embedded in this build; load a .cvqm file",
            ))
        }
    }

    /// `name#hash` of the model (the id written into every `.cvq` it makes).
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.model.id_string()
    }

    /// `"cvqn"` or `"recurrent"`.
    #[wasm_bindgen(getter)]
    pub fn family(&self) -> String {
        family_name(&self.model).into()
    }

    /// The model's default quality: its rate point, or all iterations of a recurrent
    /// model.
    #[wasm_bindgen(getter)]
    pub fn quality(&self) -> u8 {
        self.model.quality()
    }

    /// Every quality the model encodes at (one rate point for a fixed-rate model,
    /// `1..=K` for a variable-rate one, `1..=T` iterations for a recurrent one).
    #[wasm_bindgen(getter)]
    pub fn qualities(&self) -> Vec<u8> {
        self.model.qualities()
    }

    /// Whether this model can encode (a full `.cvqm`); a decoder-only `.cvqd` (the
    /// embedded model, or a cut of a recurrent model) cannot.
    #[wasm_bindgen(getter, js_name = canEncode)]
    pub fn can_encode(&self) -> bool {
        self.model.can_encode()
    }

    /// Decodes a complete `.cvq` file. Throws on a corrupt or truncated file or one made
    /// by another model.
    pub fn decode(&self, bytes: &[u8]) -> Result<DecodedImage, JsError> {
        Ok(self.decode_impl(bytes, false)?)
    }

    /// Decodes a prefix of a `.cvq` file (progressive preview): the groups received so
    /// far (CVQN guesses the rest; a recurrent file stops after its last whole
    /// iteration). Throws if not even the header is complete.
    #[wasm_bindgen(js_name = decodePartial)]
    pub fn decode_partial(&self, bytes: &[u8]) -> Result<DecodedImage, JsError> {
        Ok(self.decode_impl(bytes, true)?)
    }

    /// Decodes a (possibly partial) file and calls `paint(image)` with every
    /// reconstruction on the way: each received iteration of a recurrent file in turn,
    /// the one image of a CVQN file. Throws as `decodePartial`, or what `paint` throws.
    #[wasm_bindgen(js_name = decodeEach)]
    pub fn decode_each(&self, bytes: &[u8], paint: &js_sys::Function) -> Result<(), JsError> {
        painting(paint, |each| self.decode_each_impl(bytes, each))
    }

    /// Decodes a (possibly partial, with `partial`) CVQN file in tiles of about
    /// `tile_px` pixels a side and calls `paint(tile)` with each finished tile (a
    /// `DecodedImage` placed at `x`, `y`) — memory then depends on the tile, not on the
    /// photo, and a viewer paints the image as it comes. A decoder with
    /// channel attention first runs one pass over the tiles per attention block (no
    /// paint) to gather the whole image's means. The pixels are those of `decode`
    /// (identical in the tests). Returns the number of tiles. Throws as `decode`, for
    /// a recurrent file, or what `paint` throws.
    #[wasm_bindgen(js_name = decodeTiles)]
    pub fn decode_tiles(
        &self,
        bytes: &[u8],
        tile_px: u32,
        partial: bool,
        paint: &js_sys::Function,
    ) -> Result<u32, JsError> {
        painting(paint, |each| {
            self.decode_tiles_impl(bytes, tile_px, partial, each)
        })
    }

    /// Encodes RGBA pixels (`ImageData.data`, alpha ignored) at `quality`, which must be
    /// one of this model's `qualities` (iterations of a recurrent model). Returns the
    /// `.cvq` bytes. Throws for a decoder-only model (see `canEncode`).
    pub fn encode(
        &self,
        rgba: &[u8],
        width: u32,
        height: u32,
        quality: u8,
    ) -> Result<Vec<u8>, JsError> {
        Ok(self.encode_rgba_at(rgba, width, height, quality)?)
    }
}

impl Codec {
    /// Loads a model file of either family.
    ///
    /// # Errors
    ///
    /// [`CodecError`] from the model file or its weights.
    pub fn load(model_bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(Self {
            streams: Streams::default(),
            // One thread: WebAssembly in a browser has none to spawn.
            model: LoadedModel::load(model_bytes, &Default::default())?.with_cpu_kernels(1),
        })
    }

    fn recurrent_bits(
        m: &RecurrentCodecModel<Cpu>,
        bytes: &[u8],
        partial: bool,
    ) -> Result<DecodedBits, CodecError> {
        m.decode_bits(bytes, &Limits::default(), partial)
    }

    /// Decodes a complete file (`partial = false`) or a prefix (`partial = true`).
    ///
    /// # Errors
    ///
    /// As [`CodecModel::decode_symbols`](cvq_core::codec::CodecModel::decode_symbols) / [`RecurrentCodecModel::decode_bits`].
    pub fn decode_impl(&self, bytes: &[u8], partial: bool) -> Result<DecodedImage, CodecError> {
        match &self.model {
            LoadedModel::Cvqn(m) => {
                let symbols = m.decode_symbols(bytes, &Limits::default(), partial)?;
                let image = m.synthesize(&symbols)?;
                Ok(DecodedImage::new(&image, &symbols))
            }
            LoadedModel::Recurrent(m) => {
                let bits = Self::recurrent_bits(m, bytes, partial)?;
                let pixels = self.streams.advance(m, &bits)?;
                let image = pixels_to_image(&bits.header, pixels.into_data())?;
                Ok(DecodedImage::with_groups(
                    &image,
                    bits.planes.len(),
                    bits.iterations,
                ))
            }
        }
    }

    /// [`Codec::decode_each`] for Rust callers: a (possibly partial) file, `paint` called
    /// with every reconstruction on the way.
    ///
    /// # Errors
    ///
    /// As [`Codec::decode_impl`] with `partial`.
    pub fn decode_each_impl(
        &self,
        bytes: &[u8],
        mut paint: impl FnMut(DecodedImage),
    ) -> Result<(), CodecError> {
        match &self.model {
            LoadedModel::Cvqn(_) => paint(self.decode_impl(bytes, true)?),
            LoadedModel::Recurrent(m) => {
                let bits = Self::recurrent_bits(m, bytes, true)?;
                m.reconstruct_each(&bits, |t, image| {
                    paint(DecodedImage::with_groups(&image, t + 1, bits.iterations));
                })?;
            }
        }
        Ok(())
    }

    /// [`Codec::decode_tiles`] for Rust callers.
    ///
    /// # Errors
    ///
    /// As [`Codec::decode_impl`]; [`CodecError::WrongFamily`] for a recurrent model.
    pub fn decode_tiles_impl(
        &self,
        bytes: &[u8],
        tile_px: u32,
        partial: bool,
        mut paint: impl FnMut(DecodedImage),
    ) -> Result<u32, CodecError> {
        let LoadedModel::Cvqn(m) = &self.model else {
            return Err(tiles_need_cvqn());
        };
        let symbols = m.decode_symbols(bytes, &Limits::default(), partial)?;
        let tile = (tile_px as usize).div_ceil(cvq_core::codec::STRIDE).max(1);
        let mut tiles = 0;
        m.synthesize_tiles(
            &symbols,
            tile,
            1,
            |_, _| {},
            |t| {
                tiles += 1;
                let groups = symbols.header.groups.len();
                paint(DecodedImage::tile(&t, symbols.groups_received, groups));
            },
        )?;
        Ok(tiles)
    }

    /// Encodes RGBA pixels at the model's default quality.
    ///
    /// # Errors
    ///
    /// As [`Codec::encode_rgba_at`].
    pub fn encode_rgba(&self, rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, CodecError> {
        self.encode_rgba_at(rgba, width, height, self.quality())
    }

    /// Encodes RGBA pixels at `quality` (rate point, or iterations of a recurrent
    /// model).
    ///
    /// # Errors
    ///
    /// [`CodecError::BadImage`] for a buffer that is not `4·width·height` bytes,
    /// [`CodecError::Quality`] / [`CodecError::Iterations`] for a quality the model
    /// does not have, or encoding errors.
    pub fn encode_rgba_at(
        &self,
        rgba: &[u8],
        width: u32,
        height: u32,
        quality: u8,
    ) -> Result<Vec<u8>, CodecError> {
        let image = rgba_image(rgba, width, height)?;
        Ok(match &self.model {
            LoadedModel::Cvqn(m) => m.encode_at(&image, quality)?.bytes,
            LoadedModel::Recurrent(m) => m.encode(&image, usize::from(quality))?.bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_info_describes_the_small_decoder() {
        let v: serde_json::Value = serde_json::from_str(&preset_info("small").unwrap()).unwrap();
        let macs = v["complexity"]["decoder"]["macs_per_pixel"]
            .as_f64()
            .unwrap();
        assert!(macs > 0.0 && macs <= 60_000.0, "{macs}");
        assert_eq!(preset_names().len(), 5);
    }

    #[test]
    fn inspect_reports_header_and_complete_groups() {
        let file = include_bytes!("../tests/fixtures/kodim23-crop-q3.cvq");
        let empty = inspect_prefix(&[]).unwrap();
        assert!(!empty.header_complete());
        let whole = inspect_prefix(file).unwrap();
        assert!(whole.header_complete());
        assert_eq!((whole.width(), whole.height()), (72, 56));
        assert_eq!(whole.groups_complete(), whole.groups());
        assert_eq!(whole.file_len() as usize, file.len());
        let cut = inspect_prefix(&file[..120]).unwrap();
        assert_eq!((cut.groups_complete(), cut.groups()), (1, 3));
        assert!(inspect_prefix(b"PNG not a cvq").is_err());
    }

    #[test]
    fn compare_gives_psnr_and_skips_ms_ssim_on_small_images() {
        let a = vec![100u8; 4 * 8 * 8];
        let mut b = a.clone();
        b[0] = 110;
        let m = compare_rgba(&a, &b, 8, 8).unwrap();
        assert!((m.psnr - 10.0 * (255.0f64 * 255.0 / (100.0 / 192.0)).log10()).abs() < 1e-9);
        assert_eq!(m.ms_ssim, None);
        let big = vec![50u8; 4 * 170 * 170];
        let m = compare_rgba(&big, &big, 170, 170).unwrap();
        assert_eq!((m.psnr, m.ms_ssim), (f64::INFINITY, Some(1.0)));
        let err = compare_rgba(&a, &b[..10], 8, 8).unwrap_err().to_string();
        assert!(err.contains("needs 4·w·h bytes, got 10"), "{err}");
    }

    #[test]
    fn tiles_cover_the_image_once_with_the_whole_decodes_pixels() {
        let codec = Codec::embedded().unwrap();
        let file = include_bytes!("../tests/fixtures/kodim23-crop-q3.cvq");
        let whole = codec.decode_impl(file, false).unwrap();
        let (w, h) = (whole.width as usize, whole.height as usize);
        // 16-px tiles over 72×56: 5 × 4 tiles, the last column and row cropped.
        let mut painted = vec![0u8; 4 * w * h];
        let mut seen = vec![0u8; w * h];
        let tiles = codec
            .decode_tiles_impl(file, 16, false, |t| {
                let (x, y, tw, th) = t.rect();
                for (r, row) in t.rgba_bytes().chunks_exact(4 * tw as usize).enumerate() {
                    let at = (y as usize + r) * w + x as usize;
                    painted[4 * at..4 * at + row.len()].copy_from_slice(row);
                    seen[at..at + tw as usize].iter_mut().for_each(|n| *n += 1);
                }
                assert!(th >= 1);
            })
            .unwrap();
        assert_eq!(tiles, 20);
        assert!(seen.iter().all(|&n| n == 1), "every pixel painted once");
        assert!(
            painted == whole.rgba_bytes(),
            "tiled pixels differ from the whole decode"
        );
    }

    #[test]
    fn rgba_round_trip() {
        let rgb = vec![1, 2, 3, 4, 5, 6];
        let rgba = rgb_to_rgba(&rgb);
        assert_eq!(rgba, vec![1, 2, 3, 255, 4, 5, 6, 255]);
        assert_eq!(rgba_to_rgb(&rgba), rgb);
    }
}
