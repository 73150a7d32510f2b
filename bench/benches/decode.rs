//! Decode time on Kodak, split into entropy decoding (integer model, CPU) and synthesis
//! (float decoder, Burn Flex CPU backend), for the `small` preset with both entropy
//! models. Prints a table; run with `cargo bench -p cvq-bench --bench decode`.
//!
//! No trained model is shipped yet, so the model is randomly initialised (seeded), with
//! its quantizer means fitted to the first image's latent so that symbols vary: the
//! timings are those of the real architecture; the rates only compare the integer
//! entropy model with its float twin (same symbols), not the codec's quality.
//! `CVQ_BENCH_IMAGES=N` sets how many Kodak images to time (default 2);
//! `CVQ_KODAK` overrides the folder (default `../shared/data/kodak`).

use std::path::PathBuf;
use std::time::Instant;

use burn::backend::Flex;
use burn::tensor::ElementConversion;
use cvq_bitstream::format::Limits;
use cvq_core::codec::{CodecModel, RgbImage, image_to_tensor};
use cvq_core::config::{CvqnConfig, EntropyKind, Preset};
use cvq_core::entropy::WeightPrecision;
use cvq_core::model::Cvqn;

type B = Flex;

fn kodak() -> PathBuf {
    std::env::var_os("CVQ_KODAK").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/kodak"),
        PathBuf::from,
    )
}

fn main() {
    let n: usize = std::env::var("CVQ_BENCH_IMAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let images: Vec<(String, RgbImage)> = (1..=n)
        .map(|i| {
            let name = format!("kodim{i:02}.png");
            let img = image::open(kodak().join(&name))
                .expect("Kodak image")
                .to_rgb8();
            let (w, h) = (img.width() as usize, img.height() as usize);
            (name, RgbImage::new(w, h, img.into_raw()).unwrap())
        })
        .collect();
    let device = Default::default();
    println!(
        "decode time, small preset (random seeded weights), Flex CPU backend, {} thread(s) available",
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    println!(
        "{:<10} {:<12} {:>10} {:>11} {:>13} {:>10} {:>9}",
        "entropy", "image", "encode ms", "entropy ms", "synthesis ms", "total ms", "entropy %"
    );
    let mut rates = Vec::new();
    for kind in [EntropyKind::Parallel, EntropyKind::Context3d] {
        <B as burn::tensor::backend::Backend>::seed(&device, 1);
        let cfg = CvqnConfig::preset(Preset::Small).with_entropy(kind);
        let mut model = Cvqn::<B>::new(&cfg, &device).unwrap();
        model.fit_quantizer_means(
            model
                .encoder
                .forward(image_to_tensor::<B>(&images[0].1, &device)),
        );
        let (codec, _) = CodecModel::freeze(model, cfg, 1, WeightPrecision::F32, &device).unwrap();
        for (name, image) in &images {
            let t = Instant::now();
            let enc = codec.encode(image).unwrap();
            let encode = t.elapsed().as_secs_f64() * 1e3;
            let bytes = enc.bytes;
            let float_bits = f64::from(
                codec
                    .model
                    .as_ref()
                    .expect("a frozen model has its encoder")
                    .forward(image_to_tensor::<B>(image, &device))
                    .bpp()
                    .into_scalar()
                    .elem::<f32>(),
            ) * (image.width * image.height) as f64;
            rates.push(format!(
                "{:<10} {name:<12} {:>9} {:>12.0} {:>12.0} {:>+9.3}%",
                format!("{kind:?}"),
                bytes.len(),
                enc.estimated_bits,
                float_bits,
                100.0 * (enc.estimated_bits - float_bits) / float_bits
            ));
            // One warm-up decode, then the timed one.
            let _ = codec.decode(&bytes).unwrap();
            let t = Instant::now();
            let symbols = codec
                .decode_symbols(&bytes, &Limits::default(), false)
                .unwrap();
            let entropy = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let out = codec.synthesize(&symbols).unwrap();
            let synthesis = t.elapsed().as_secs_f64() * 1e3;
            assert_eq!(out.width, image.width);
            let total = entropy + synthesis;
            println!(
                "{:<10} {:<12} {:>10.0} {:>11.1} {:>13.1} {:>10.1} {:>8.1}%",
                format!("{kind:?}"),
                name,
                encode,
                entropy,
                synthesis,
                total,
                100.0 * entropy / total
            );
        }
    }
    println!();
    println!("rate of the integer entropy model vs its float twin (same symbols)");
    println!(
        "{:<10} {:<12} {:>9} {:>12} {:>12} {:>10}",
        "entropy", "image", "file B", "int bits", "float bits", "int/float"
    );
    for line in rates {
        println!("{line}");
    }
}
