//! Browser bindings for cvq (built with `wasm-pack build --target web`).
//!
//! So far this exposes the model catalogue; decoding and encoding `.cvq` files in the
//! browser arrive with the web issue.
#![forbid(unsafe_code)]

use codec_core::complexity::complexity;
use codec_core::config::{CvqnConfig, Preset};
use wasm_bindgen::prelude::*;

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
}
