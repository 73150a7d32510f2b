//! Golden `.cvq` files: re-encoding the fixture image with the fixture models on the
//! CPU backend reproduces them byte for byte, and they decode to the recorded symbol
//! and pixel hashes. The same files are decoded (symbols only, no Burn) on wasm32 by
//! `cvq-entropy`'s `golden_cross_target` test.
//!
//! Fixtures live in `entropy/tests/fixtures/golden/`. Regenerate them (only when the
//! format or the model changes on purpose) with
//! `CVQ_BLESS=1 cargo test -p tests --test golden_files` (needs `../shared/data/kodak`).

use std::fmt::Write;
use std::path::{Path, PathBuf};

use burn::backend::Flex;
use cvq_core::codec::{CodecModel, RgbImage, image_to_tensor};
use cvq_core::config::{CvqnConfig, EntropyKind, Preset};
use cvq_core::entropy::WeightPrecision;
use cvq_core::model::Cvqn;
use sha2::{Digest, Sha256};

type B = Flex;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../entropy/tests/fixtures/golden")
}

fn hex16(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..8]
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Hash of the symbols of every group (model order), one byte per symbol.
fn symbols_hash(symbols: &[Vec<usize>]) -> String {
    let flat: Vec<u8> = symbols.iter().flatten().map(|&s| s as u8).collect();
    hex16(&flat)
}

const CASES: [(&str, EntropyKind, u64); 2] = [
    ("tiny-parallel", EntropyKind::Parallel, 2024),
    ("tiny-context3d", EntropyKind::Context3d, 2025),
];

fn read_png(path: &Path) -> RgbImage {
    let img = image::open(path).unwrap().to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    RgbImage::new(w, h, img.into_raw()).unwrap()
}

/// Quantizer means fitted to the fixture's latent (a 64×48 crop) so that the golden
/// symbols vary (see `Cvqn::fit_quantizer_means`).
fn spread_quantizer_means(model: &mut Cvqn<B>, image: &RgbImage) {
    let (w, h) = (64, 48);
    let data = (0..h)
        .flat_map(|y| image.data[y * image.width * 3..][..w * 3].to_vec())
        .collect();
    let crop = RgbImage::new(w, h, data).unwrap();
    let latent = model
        .encoder
        .forward(image_to_tensor::<B>(&crop, &Default::default()));
    model.fit_quantizer_means(latent);
}

fn bless() {
    let kodak = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/kodak/kodim23.png");
    let full = image::open(&kodak).expect("kodim23.png").to_rgb8();
    let crop = image::imageops::crop_imm(&full, 300, 100, 72, 56).to_image();
    crop.save(dir().join("kodim23-crop.png")).unwrap();
    let image = read_png(&dir().join("kodim23-crop.png"));
    let device = Default::default();
    for (name, kind, seed) in CASES {
        <B as burn::tensor::backend::Backend>::seed(&device, seed);
        let cfg = CvqnConfig::preset(Preset::Tiny).with_entropy(kind);
        let mut model = Cvqn::<B>::new(&cfg, &device).unwrap();
        spread_quantizer_means(&mut model, &image);
        let (codec, file) =
            CodecModel::freeze(model, cfg, 1, WeightPrecision::F32, &device).unwrap();
        std::fs::write(dir().join(format!("{name}.cvqm")), file.to_bytes().unwrap()).unwrap();
        let bytes = codec.encode(&image).unwrap().bytes;
        std::fs::write(dir().join(format!("{name}.cvq")), &bytes).unwrap();
    }
}

#[test]
fn golden_files_reencode_and_decode_identically() {
    if std::env::var_os("CVQ_BLESS").is_some() {
        bless();
    }
    let image = read_png(&dir().join("kodim23-crop.png"));
    let mut table = String::new();
    for (name, _, _) in CASES {
        let model_bytes = std::fs::read(dir().join(format!("{name}.cvqm"))).unwrap();
        let codec = CodecModel::<B>::load(&model_bytes, &Default::default()).unwrap();
        let golden = std::fs::read(dir().join(format!("{name}.cvq"))).unwrap();
        let bytes = codec.encode(&image).unwrap().bytes;
        assert!(
            bytes == golden,
            "{name}: re-encoding differs from the golden file"
        );
        let symbols = codec
            .decode_symbols(&golden, &Default::default(), false)
            .unwrap();
        let pixels = codec.synthesize(&symbols).unwrap();
        let _ = writeln!(
            table,
            "{name} symbols={} pixels={}",
            symbols_hash(&symbols.symbols),
            hex16(&pixels.data)
        );
    }
    let path = dir().join("hashes.txt");
    if std::env::var_os("CVQ_BLESS").is_some() {
        std::fs::write(&path, &table).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), table);
}
