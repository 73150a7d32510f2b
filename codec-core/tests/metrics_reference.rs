//! Checks the metrics against reference values produced by `pytorch_msssim`
//! 1.0.0 (float64) on PNG fixtures in `shared/fixtures/metrics` (read-only).

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use cvq_core::metrics::{
    ms_ssim_rgb8, ms_ssim_tensor, mse_rgb8, psnr_rgb8, psnr_tensor, ssim_rgb8,
};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/metrics");

struct Case {
    name: String,
    width: usize,
    height: usize,
    reference: Vec<u8>,
    distorted: Vec<u8>,
    mse: f64,
    psnr_db: f64,
    ms_ssim: f64,
    ssim: f64,
}

fn load_png(name: &str) -> (Vec<u8>, usize, usize) {
    let path = format!("{FIXTURES}/{name}");
    let img = image::open(&path)
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
        .to_rgb8();
    let (w, h) = img.dimensions();
    (img.into_raw(), w as usize, h as usize)
}

fn cases() -> Vec<Case> {
    let path = format!("{FIXTURES}/expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let json: Value = serde_json::from_str(&text).expect("valid expected.json");
    let cases = json["cases"].as_array().expect("cases array");
    assert!(!cases.is_empty());
    cases
        .iter()
        .map(|c| {
            let num = |k: &str| c[k].as_f64().unwrap_or_else(|| panic!("missing {k}"));
            let (reference, w, h) = load_png(c["ref"].as_str().unwrap());
            let (distorted, w2, h2) = load_png(c["dist"].as_str().unwrap());
            assert_eq!((w, h), (w2, h2));
            assert_eq!((w as f64, h as f64), (num("w"), num("h")));
            Case {
                name: c["name"].as_str().unwrap().to_owned(),
                width: w,
                height: h,
                reference,
                distorted,
                mse: num("mse"),
                psnr_db: num("psnr_db"),
                ms_ssim: num("ms_ssim"),
                ssim: num("ssim"),
            }
        })
        .collect()
}

/// Interleaved RGB8 -> `[1, 3, H, W]` float tensor in `0..=255`.
fn to_tensor(rgb: &[u8], w: usize, h: usize) -> Tensor<Flex, 4> {
    let mut planar = vec![0f32; rgb.len()];
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            planar[c * w * h + i] = f32::from(px[c]);
        }
    }
    Tensor::from_data(TensorData::new(planar, [1, 3, h, w]), &Default::default())
}

#[test]
fn pure_rust_metrics_match_reference() {
    for c in cases() {
        let (r, d, w, h) = (&c.reference, &c.distorted, c.width, c.height);
        let mse = mse_rgb8(r, d, w, h).unwrap();
        let psnr = psnr_rgb8(r, d, w, h).unwrap();
        let ms = ms_ssim_rgb8(r, d, w, h).unwrap();
        let ssim = ssim_rgb8(r, d, w, h).unwrap();
        println!(
            "{}: |dmse|/mse={:.2e} dpsnr={:.2e} dms_ssim={:.2e} dssim={:.2e}",
            c.name,
            (mse - c.mse).abs() / c.mse,
            (psnr - c.psnr_db).abs(),
            (ms - c.ms_ssim).abs(),
            (ssim - c.ssim).abs()
        );
        assert!(
            (mse - c.mse).abs() <= 1e-9 * c.mse,
            "{}: mse {mse} vs {}",
            c.name,
            c.mse
        );
        assert!(
            (psnr - c.psnr_db).abs() <= 1e-6,
            "{}: psnr {psnr} vs {}",
            c.name,
            c.psnr_db
        );
        // The f64 implementation reproduces the reference to ~1e-15; the
        // tolerances are kept far below the required 1e-5 to catch regressions.
        assert!(
            (ms - c.ms_ssim).abs() <= 1e-9,
            "{}: ms-ssim {ms} vs {}",
            c.name,
            c.ms_ssim
        );
        assert!(
            (ssim - c.ssim).abs() <= 1e-9,
            "{}: ssim {ssim} vs {}",
            c.name,
            c.ssim
        );
    }
}

#[test]
fn burn_metrics_match_reference() {
    for c in cases() {
        let x = to_tensor(&c.reference, c.width, c.height);
        let y = to_tensor(&c.distorted, c.width, c.height);
        let ms = ms_ssim_tensor(x.clone(), y.clone())
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let psnr = psnr_tensor(x, y)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        assert_eq!(ms.len(), 1);
        let (ms, psnr) = (f64::from(ms[0]), f64::from(psnr[0]));
        println!(
            "{}: burn dms_ssim={:.2e} dpsnr={:.2e}",
            c.name,
            (ms - c.ms_ssim).abs(),
            (psnr - c.psnr_db).abs()
        );
        assert!(
            (ms - c.ms_ssim).abs() <= 1e-4,
            "{}: burn ms-ssim {ms} vs {}",
            c.name,
            c.ms_ssim
        );
        assert!(
            (psnr - c.psnr_db).abs() <= 1e-3,
            "{}: burn psnr {psnr} vs {}",
            c.name,
            c.psnr_db
        );
    }
}

#[test]
fn burn_batch_matches_single_images() {
    // Two same-sized cases in one batch give the per-image values.
    let all = cases();
    let same: Vec<&Case> = all
        .iter()
        .filter(|c| (c.width, c.height) == (256, 256))
        .take(2)
        .collect();
    assert_eq!(same.len(), 2, "fixtures should contain two 256x256 cases");
    let stack = |f: fn(&Case) -> &Vec<u8>| {
        Tensor::cat(same.iter().map(|c| to_tensor(f(c), 256, 256)).collect(), 0)
    };
    let x = stack(|c| &c.reference);
    let y = stack(|c| &c.distorted);
    let ms = ms_ssim_tensor(x, y)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(ms.len(), 2);
    for (v, c) in ms.iter().zip(&same) {
        assert!(
            (f64::from(*v) - c.ms_ssim).abs() <= 1e-4,
            "{}: batched {v} vs {}",
            c.name,
            c.ms_ssim
        );
    }
}
