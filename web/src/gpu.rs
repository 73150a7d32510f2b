//! Synthesis and analysis on WebGPU (feature `webgpu`): Burn's wgpu backend with WGSL
//! kernels.
//!
//! Entropy decoding stays on the CPU in WASM with the integer model, so both paths decode
//! the same symbols; only the float synthesis network runs on the GPU, and its pixels are
//! read back asynchronously (browsers cannot block on the GPU). Encoding runs the encoder
//! and the quantizers (CVQN; every iteration of a recurrent model) on the GPU, reads the
//! symbols back asynchronously and entropy-codes them on the CPU: a float tie may give a
//! symbol other than the CPU path's, but the file is a `.cvq` like any other and decodes
//! to the same pixels everywhere.
//!
//! ```js
//! import init, { GpuCodec } from "cvq-web/webgpu"; // node_modules/cvq-web/webgpu/cvq_web.js
//! await init();
//! if (navigator.gpu && await navigator.gpu.requestAdapter()) {
//!   const gpu = await GpuCodec.create();          // embedded decoder-only model
//!   const img = await gpu.decode(bytes);          // same DecodedImage as Codec.decode
//!   const rnn = await GpuCodec.create(cvqmBytes); // any model file, either family
//!   const cvq = await rnn.encode(imageData.data, w, h, 4); // a full .cvqm encodes too
//! }
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use burn::backend::wgpu::{RuntimeOptions, WgpuDevice, graphics, init_setup_async};
use burn::tensor::{BasicOps, Tensor, TensorData};
use cvq_bitstream::format::{FileHeader, Limits};
use cvq_core::codec::{CodecError, STRIDE, pixels_to_image};
use cvq_core::loaded::LoadedModel;
use cvq_core::tiling::DecodedTile;
use wasm_bindgen::prelude::*;

use crate::{DecodedImage, Streams, rgba_image, tiles_need_cvqn};

/// The backend that runs synthesis on the GPU (f32, WGSL, no kernel fusion).
pub type Gpu = burn::backend::WebGpu;

thread_local! {
    /// Adapter description once the WebGPU runtime is set up (once per module).
    static ADAPTER: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Sets up Burn's WebGPU runtime on the default device once; returns the adapter's
/// description. The caller must have checked that `navigator.gpu.requestAdapter()`
/// gives an adapter (wgpu panics without one).
async fn gpu_device() -> (WgpuDevice, String) {
    let device = WgpuDevice::default();
    if let Some(name) = ADAPTER.with(|a| a.borrow().clone()) {
        return (device, name);
    }
    let setup = init_setup_async::<graphics::WebGpu>(&device, RuntimeOptions::default()).await;
    let info = setup.adapter.get_info();
    // Browsers hide the adapter's name; wgpu then reports an empty one.
    let name = if info.name.is_empty() {
        format!("{:?}", info.backend)
    } else {
        format!("{} ({:?})", info.name, info.backend)
    };
    ADAPTER.with(|a| *a.borrow_mut() = Some(name.clone()));
    (device, name)
}

/// A model whose synthesis runs on WebGPU: either family, as [`Codec`](crate::Codec).
#[wasm_bindgen]
pub struct GpuCodec {
    /// Shared with the tile loop of [`GpuCodec::decode_tiles`], which outlives the call.
    model: Rc<LoadedModel<Gpu>>,
    /// A recurrent model's streams (prefix by prefix decoding runs each iteration once,
    /// as on the CPU path); the cell states stay on the GPU between calls.
    streams: Streams<Gpu>,
    adapter: String,
}

#[wasm_bindgen]
impl GpuCodec {
    /// Opens WebGPU and loads a model file of either family (`.cvqd` or `.cvqm`), or the
    /// embedded model when `model_bytes` is omitted. Rejects on a corrupt model file.
    pub async fn create(model_bytes: Option<Vec<u8>>) -> Result<GpuCodec, JsError> {
        let (device, adapter) = gpu_device().await;
        let bytes = match model_bytes {
            Some(b) => b,
            None => embedded()?.to_vec(),
        };
        Ok(GpuCodec {
            model: Rc::new(LoadedModel::load(&bytes, &device)?),
            streams: Streams::default(),
            adapter,
        })
    }

    /// The WebGPU adapter as wgpu sees it: its name and backend where the platform
    /// tells them (browsers hide the name: then just "BrowserWebGpu").
    #[wasm_bindgen(getter)]
    pub fn adapter(&self) -> String {
        self.adapter.clone()
    }

    /// `name#hash` of the model.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.model.id_string()
    }

    /// Decodes a (possibly partial, with `partial`) CVQN file in tiles of about
    /// `tile_px` pixels a side with synthesis on the GPU, calling `paint(tile)` with each
    /// tile (a `DecodedImage` placed at `x`, `y`) as its pixels come back; resolves to
    /// the number of tiles. Nothing is read back before the tiles, and each tile is read
    /// back before the next is queued, so GPU memory depends on the tile, not on the
    /// photo (a whole 12-MP synthesis needs more than a browser's buffer limit). Pixels
    /// within ±1 of `decode` (attention means summed in `f32` on the GPU). Throws as
    /// `decode` for a corrupt file, or for a recurrent one (it decodes iteration by
    /// iteration); rejects with what `paint` throws.
    #[wasm_bindgen(js_name = decodeTiles)]
    pub fn decode_tiles(
        &self,
        bytes: &[u8],
        tile_px: u32,
        partial: bool,
        paint: js_sys::Function,
    ) -> Result<js_sys::Promise, JsError> {
        let LoadedModel::Cvqn(m) = &*self.model else {
            return Err(tiles_need_cvqn().into());
        };
        let symbols = m.decode_symbols(bytes, &Limits::default(), partial)?;
        let model = Rc::clone(&self.model);
        let tile = (tile_px as usize).div_ceil(STRIDE).max(1);
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let LoadedModel::Cvqn(m) = &*model else {
                unreachable!("checked before the future")
            };
            let fail = |e: CodecError| JsValue::from(JsError::new(&e.to_string()));
            let groups = symbols.header.groups.len();
            let mut painted = 0u32;
            for queued in m.queued_tiles(&symbols, tile).map_err(fail)? {
                let t = queued.map_err(fail)?;
                let data = read_data(t.pixels, "pixels").await.map_err(fail)?;
                let tile =
                    DecodedTile::from_pixels(t.x, t.y, t.width, t.height, data).map_err(fail)?;
                let image = DecodedImage::tile(&tile, symbols.groups_received, groups);
                paint.call1(&JsValue::NULL, &JsValue::from(image))?;
                painted += 1;
            }
            Ok(JsValue::from(painted))
        }))
    }

    /// Whether this model can encode (a full `.cvqm`); the embedded decoder-only model
    /// cannot.
    #[wasm_bindgen(getter, js_name = canEncode)]
    pub fn can_encode(&self) -> bool {
        self.model.can_encode()
    }

    /// Encodes RGBA pixels (`ImageData.data`, alpha ignored) at `quality` (a rate point,
    /// or iterations of a recurrent model) with the encoder on the GPU; resolves to the
    /// `.cvq` bytes. Throws for a decoder-only model, a quality the model lacks, a bad
    /// buffer, or a model whose channel order is computed from the image (SE
    /// importance: it needs a blocking read-back; encode it with `Codec`).
    pub fn encode(
        &self,
        rgba: &[u8],
        width: u32,
        height: u32,
        quality: u8,
    ) -> Result<js_sys::Promise, JsError> {
        let image = rgba_image(rgba, width, height)?;
        let bytes = |e: Vec<u8>| js_sys::Uint8Array::from(e.as_slice());
        Ok(match &*self.model {
            LoadedModel::Cvqn(m) => {
                if m.encode_reads_order() {
                    return Err(JsError::new(&format!(
                        "model {} computes its channel order from the image (SE importance), \
                         which needs a blocking read-back: encode it on the CPU path (Codec)",
                        m.id_string()
                    )));
                }
                let pending = m.queue_encode(&image, quality)?;
                promise(async move {
                    let data = read_data(pending.symbols, "symbols").await?;
                    Ok(bytes(pending.writer.write(data)?.bytes))
                })
            }
            LoadedModel::Recurrent(m) => {
                let pending = m.queue_encode(&image, usize::from(quality))?;
                promise(async move {
                    let data = read_data(pending.codes, "codes").await?;
                    Ok(bytes(pending.writer.write(data)?.bytes))
                })
            }
        })
    }

    /// Decodes a complete `.cvq` file; resolves to a `DecodedImage`. Corrupt input
    /// rejects (entropy decoding runs before anything reaches the GPU).
    pub fn decode(&self, bytes: &[u8]) -> Result<js_sys::Promise, JsError> {
        self.decode_with(bytes, false)
    }

    /// Decodes a prefix of a `.cvq` file (progressive preview); resolves to a
    /// `DecodedImage` with `groupsReceived < groups` while groups (a recurrent file's
    /// iterations) are missing.
    #[wasm_bindgen(js_name = decodePartial)]
    pub fn decode_partial(&self, bytes: &[u8]) -> Result<js_sys::Promise, JsError> {
        self.decode_with(bytes, true)
    }
}

impl GpuCodec {
    /// Entropy decoding and the GPU work are queued now; only the read-back of the
    /// pixels waits, in the returned promise.
    fn decode_with(&self, bytes: &[u8], partial: bool) -> Result<js_sys::Promise, JsError> {
        let limits = Limits::default();
        let (header, pixels, received, groups) = match &*self.model {
            LoadedModel::Cvqn(m) => {
                let symbols = m.decode_symbols(bytes, &limits, partial)?;
                let pixels = m.synthesis_tensor(&symbols);
                let groups = symbols.header.groups.len();
                (symbols.header, pixels, symbols.groups_received, groups)
            }
            LoadedModel::Recurrent(m) => {
                let bits = m.decode_bits(bytes, &limits, partial)?;
                let pixels = self.streams.advance(m, &bits)?;
                (bits.header, pixels, bits.planes.len(), bits.iterations)
            }
        };
        Ok(promise(async move {
            read_back(&header, pixels, received, groups).await
        }))
    }
}

/// Asynchronous read-back of synthesized pixels (`[1, 3, H, W]`, padded, ≈ `0..255`),
/// then the same rounding and cropping as the CPU path ([`pixels_to_image`]).
async fn read_back(
    header: &FileHeader,
    pixels: Tensor<Gpu, 4>,
    received: usize,
    groups: usize,
) -> Result<DecodedImage, CodecError> {
    let data = read_data(pixels, "pixels").await?;
    let image = pixels_to_image(header, data)?;
    Ok(DecodedImage::with_groups(&image, received, groups))
}

/// Reads `what` back from the GPU without blocking.
async fn read_data<const D: usize, K: BasicOps<Gpu>>(
    tensor: Tensor<Gpu, D, K>,
    what: &str,
) -> Result<TensorData, CodecError> {
    tensor
        .into_data_async()
        .await
        .map_err(|e| CodecError::Weights(format!("reading {what} from the GPU: {e:?}")))
}

/// A JS promise of what `work` makes; a [`CodecError`] rejects it with its text.
fn promise<T: Into<JsValue>>(
    work: impl std::future::Future<Output = Result<T, CodecError>> + 'static,
) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        work.await
            .map(Into::into)
            .map_err(|e| JsError::new(&e.to_string()).into())
    })
}

/// The embedded model's bytes, or an error for builds without one.
fn embedded() -> Result<&'static [u8], JsError> {
    #[cfg(feature = "embedded-model")]
    {
        Ok(crate::EMBEDDED_MODEL)
    }
    #[cfg(not(feature = "embedded-model"))]
    {
        Err(JsError::new(
            "no model is embedded in this build; pass a .cvqd or .cvqm file",
        ))
    }
}
