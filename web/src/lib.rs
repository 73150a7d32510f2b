//! Browser bindings for cvq (built with `wasm-pack build web --target web`).
//!
//! ```js
//! import init, { Codec } from "./pkg/web.js";
//! await init();
//! const codec = Codec.embedded();                 // or new Codec(new Uint8Array(cvqmBytes))
//! const img = codec.decode(new Uint8Array(cvq));  // throws Error("…typed message…")
//! ctx.putImageData(new ImageData(img.rgba, img.width, img.height), 0, 0);
//! const bytes = codec.encode(imageData.data, w, h, codec.quality);
//! ```
//!
//! Synthesis runs on Burn's Flex CPU backend (no threads on `wasm32-unknown-unknown`);
//! entropy coding is the integer model of `cvq-entropy`, identical on every target.
//! Every error becomes a JS `Error` whose message is the typed error's text.
#![forbid(unsafe_code)]

use codec_core::codec::{CodecError, CodecModel, RgbImage};
use codec_core::complexity::complexity;
use codec_core::config::{CvqnConfig, Preset};
use cvq_bitstream::format::Limits;
use wasm_bindgen::Clamped;
use wasm_bindgen::prelude::*;

/// The backend that runs synthesis (and analysis for `encode`) in WASM.
pub type Cpu = burn::backend::Flex;

/// The default model compiled into the module (`models/cvq-compact-q3.cvqm`, quality 3),
/// present with the `embedded-model` feature (on by default).
#[cfg(feature = "embedded-model")]
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../../models/cvq-compact-q3.cvqm");

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
}

#[wasm_bindgen]
impl DecodedImage {
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
    /// The RGBA bytes without copying (Rust callers and tests).
    pub fn rgba_bytes(&self) -> &[u8] {
        &self.rgba
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

/// A loaded model: decodes `.cvq` files it made and encodes at its rate point.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Codec {
    model: CodecModel<Cpu>,
}

#[wasm_bindgen]
impl Codec {
    /// Loads a `.cvqm` model file (e.g. fetched from a URL). Throws on a corrupt file.
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

    /// The rate point this model encodes at.
    #[wasm_bindgen(getter)]
    pub fn quality(&self) -> u8 {
        self.model.quality
    }

    /// Decodes a complete `.cvq` file. Throws on a corrupt or truncated file or one made
    /// by another model.
    pub fn decode(&self, bytes: &[u8]) -> Result<DecodedImage, JsError> {
        Ok(self.decode_impl(bytes, false)?)
    }

    /// Decodes a prefix of a `.cvq` file (progressive preview): the groups received so
    /// far, the rest guessed. Throws if not even the header is complete.
    #[wasm_bindgen(js_name = decodePartial)]
    pub fn decode_partial(&self, bytes: &[u8]) -> Result<DecodedImage, JsError> {
        Ok(self.decode_impl(bytes, true)?)
    }

    /// Encodes RGBA pixels (`ImageData.data`, alpha ignored) at `quality`, which must be
    /// this model's rate point. Returns the `.cvq` bytes.
    pub fn encode(
        &self,
        rgba: &[u8],
        width: u32,
        height: u32,
        quality: u8,
    ) -> Result<Vec<u8>, JsError> {
        if quality != self.model.quality {
            return Err(JsError::new(&format!(
                "model {} encodes at quality {} only (asked for {quality})",
                self.model.id_string(),
                self.model.quality
            )));
        }
        Ok(self.encode_rgba(rgba, width, height)?)
    }
}

impl Codec {
    /// Loads a `.cvqm` model file.
    ///
    /// # Errors
    ///
    /// [`CodecError`] from the model file or its weights.
    pub fn load(model_bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(Self {
            model: CodecModel::<Cpu>::load(model_bytes, &Default::default())?,
        })
    }

    /// Decodes a complete file (`partial = false`) or a prefix (`partial = true`).
    ///
    /// # Errors
    ///
    /// As [`CodecModel::decode_symbols`].
    pub fn decode_impl(&self, bytes: &[u8], partial: bool) -> Result<DecodedImage, CodecError> {
        let symbols = self
            .model
            .decode_symbols(bytes, &Limits::default(), partial)?;
        let image = self.model.synthesize(&symbols)?;
        Ok(DecodedImage {
            width: image.width as u32,
            height: image.height as u32,
            rgba: rgb_to_rgba(&image.data),
            groups_received: symbols.groups_received as u32,
            groups: symbols.header.groups.len() as u32,
        })
    }

    /// Encodes RGBA pixels at the model's rate point.
    ///
    /// # Errors
    ///
    /// [`CodecError::BadImage`] for a buffer that is not `4·width·height` bytes, or
    /// encoding errors.
    pub fn encode_rgba(&self, rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, CodecError> {
        let (w, h) = (width as usize, height as usize);
        if w.checked_mul(h).and_then(|p| p.checked_mul(4)) != Some(rgba.len()) {
            return Err(CodecError::BadImage(format!(
                "{w}×{h} RGBA image needs 4·w·h bytes, got {}",
                rgba.len()
            )));
        }
        let image = RgbImage::new(w, h, rgba_to_rgb(rgba))?;
        Ok(self.model.encode(&image)?.bytes)
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
    fn rgba_round_trip() {
        let rgb = vec![1, 2, 3, 4, 5, 6];
        let rgba = rgb_to_rgba(&rgb);
        assert_eq!(rgba, vec![1, 2, 3, 255, 4, 5, 6, 255]);
        assert_eq!(rgba_to_rgb(&rgba), rgb);
    }
}
