//! The `web` API on the native target decodes the fixtures to the pixels of the golden
//! PNGs written by `cvq decode` (the same fixtures the wasm tests compare against).
#![cfg(all(not(target_arch = "wasm32"), feature = "embedded-model"))]

use cvq_web::{Codec, EMBEDDED_MODEL, rgb_to_rgba};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn golden_rgba(name: &str) -> (u32, u32, Vec<u8>) {
    let img = image::load_from_memory(&fixture(name)).unwrap().to_rgb8();
    (img.width(), img.height(), rgb_to_rgba(img.as_raw()))
}

#[test]
fn embedded_model_decodes_complete_and_partial_files_like_the_cli() {
    let codec = Codec::load(EMBEDDED_MODEL).unwrap();
    for (cvq, png, partial, received) in [
        ("kodim23-crop-q3.cvq", "kodim23-crop-q3.cvq.png", false, 3),
        (
            "kodim23-crop-q3-cut120.cvq",
            "kodim23-crop-q3-cut120.cvq.png",
            true,
            1,
        ),
    ] {
        let img = codec.decode_impl(&fixture(cvq), partial).unwrap();
        let (w, h, rgba) = golden_rgba(png);
        assert_eq!((img.width(), img.height()), (w, h));
        assert_eq!(img.groups_received(), received);
        assert!(
            img.rgba_bytes() == rgba.as_slice(),
            "{cvq} differs from {png}"
        );
    }
    let err = codec
        .decode_impl(&fixture("kodim23-crop-q3-cut120.cvq"), false)
        .unwrap_err();
    assert!(!err.to_string().is_empty());
}

#[test]
fn embedded_model_is_the_decoder_only_cut_of_the_shipped_q3_model() {
    let full = std::fs::read(format!(
        "{}/../models/cvq-compact-q3.cvqm",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let full =
        cvq_core::codec::CodecModel::<cvq_web::Cpu>::load(&full, &Default::default()).unwrap();
    // `cvq-train decoder-only models/cvq-compact-q3.cvqm -o models/cvq-compact-q3.cvqd`
    // writes exactly the embedded file: regenerate it when the model changes.
    assert!(
        full.decoder_only_file().unwrap().to_bytes().unwrap() == EMBEDDED_MODEL,
        "models/cvq-compact-q3.cvqd is stale"
    );
    let codec = Codec::load(EMBEDDED_MODEL).unwrap();
    let err = codec.encode_rgba(&[0; 16], 2, 2).unwrap_err().to_string();
    assert!(err.contains("decoder-only"), "{err}");
}

#[test]
fn encode_rgba_checks_the_buffer_size() {
    let codec = Codec::load(EMBEDDED_MODEL).unwrap();
    let err = codec.encode_rgba(&[0; 8], 2, 2).unwrap_err();
    assert!(err.to_string().contains("bad image"), "{err}");
}

#[test]
fn encode_at_a_rate_point_the_model_lacks_is_an_error() {
    let full = std::fs::read(format!(
        "{}/../models/cvq-compact-q3.cvqm",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let codec = Codec::load(&full).unwrap();
    assert_eq!(codec.qualities(), vec![3]);
    let err = codec
        .encode_rgba_at(&[0; 64 * 4], 8, 8, 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no quality 2"), "{err}");
    assert!(
        !codec
            .encode_rgba_at(&[0; 64 * 4], 8, 8, 3)
            .unwrap()
            .is_empty()
    );
}
