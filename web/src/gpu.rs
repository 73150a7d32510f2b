//! Synthesis on WebGPU (feature `webgpu`): Burn's wgpu backend with WGSL kernels.
//!
//! Entropy decoding stays on the CPU in WASM with the integer model, so both paths decode
//! the same symbols; only the float synthesis network runs on the GPU, and its pixels are
//! read back asynchronously (browsers cannot block on the GPU).
//!
//! ```js
//! import init, { GpuCodec } from "cvq-web/webgpu"; // node_modules/cvq-web/webgpu/cvq_web.js
//! await init();
//! if (navigator.gpu && await navigator.gpu.requestAdapter()) {
//!   const gpu = await GpuCodec.create();          // embedded decoder-only model
//!   const img = await gpu.decode(bytes);          // same DecodedImage as Codec.decode
//! }
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use burn::backend::wgpu::{RuntimeOptions, WgpuDevice, graphics, init_setup_async};
use cvq_bitstream::format::Limits;
use cvq_core::codec::{CodecError, CodecModel, DecodedSymbols, pixels_to_image};
use wasm_bindgen::prelude::*;

use crate::DecodedImage;

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

/// A model whose synthesis runs on WebGPU.
#[wasm_bindgen]
pub struct GpuCodec {
    model: Rc<CodecModel<Gpu>>,
    adapter: String,
}

#[wasm_bindgen]
impl GpuCodec {
    /// Opens WebGPU and loads a model file (`.cvqd` or `.cvqm`), or the embedded model
    /// when `model_bytes` is omitted. Rejects on a corrupt model file.
    pub async fn create(model_bytes: Option<Vec<u8>>) -> Result<GpuCodec, JsError> {
        let (device, adapter) = gpu_device().await;
        let bytes = match model_bytes {
            Some(b) => b,
            None => embedded()?.to_vec(),
        };
        let model = CodecModel::<Gpu>::load(&bytes, &device)?;
        Ok(GpuCodec {
            model: Rc::new(model),
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

    /// Decodes a complete `.cvq` file; resolves to a `DecodedImage`. Corrupt input
    /// rejects (entropy decoding runs before anything reaches the GPU).
    pub fn decode(&self, bytes: &[u8]) -> Result<js_sys::Promise, JsError> {
        self.decode_with(bytes, false)
    }

    /// Decodes a prefix of a `.cvq` file (progressive preview); resolves to a
    /// `DecodedImage` with `groupsReceived < groups` while groups are missing.
    #[wasm_bindgen(js_name = decodePartial)]
    pub fn decode_partial(&self, bytes: &[u8]) -> Result<js_sys::Promise, JsError> {
        self.decode_with(bytes, true)
    }
}

impl GpuCodec {
    fn decode_with(&self, bytes: &[u8], partial: bool) -> Result<js_sys::Promise, JsError> {
        let symbols = self
            .model
            .decode_symbols(bytes, &Limits::default(), partial)?;
        let model = Rc::clone(&self.model);
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            synthesize(&model, &symbols)
                .await
                .map(JsValue::from)
                .map_err(|e| JsError::new(&e.to_string()).into())
        }))
    }
}

/// GPU synthesis with an asynchronous read-back, then the same rounding and cropping as
/// the CPU path ([`pixels_to_image`]).
async fn synthesize(
    model: &CodecModel<Gpu>,
    symbols: &DecodedSymbols,
) -> Result<DecodedImage, CodecError> {
    let data = model
        .synthesis_tensor(symbols)
        .into_data_async()
        .await
        .map_err(|e| CodecError::Weights(format!("reading pixels from the GPU: {e:?}")))?;
    let image = pixels_to_image(&symbols.header, data)?;
    Ok(DecodedImage::new(&image, symbols))
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
