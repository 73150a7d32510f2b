//! `cvq-bench` end to end on the small golden fixture image: cvq (embedded models) plus
//! every classical codec found on PATH; CSV, JSON and SVGs are written with sane numbers.
//! Under CI (`CI=true`, where `.ci/run` installs libjpeg-turbo-progs and webp) JPEG and
//! WebP must be among them.

use std::path::PathBuf;

use cvq_bench::codecs::{CLASSICAL, find_in_path};
use tests::Bin;

fn bench() -> Bin {
    Bin::new(env!("CARGO_BIN_EXE_cvq-bench"))
}

fn fixture() -> PathBuf {
    tests::golden_dir().join("kodim23-crop.png")
}

/// A scratch directory holding `images/kodim23-crop.png`: (the directory, `images`).
fn one_image_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("images");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(fixture(), data.join("kodim23-crop.png")).unwrap();
    (dir, data)
}

#[test]
fn bench_writes_csv_json_and_plots() {
    let (dir, data) = one_image_dir();
    // an unreadable image is reported, not fatal
    std::fs::write(data.join("broken.png"), b"not a png").unwrap();

    let found: Vec<&str> = CLASSICAL
        .iter()
        .filter(|c| find_in_path(c.encoder).is_some() && find_in_path(c.decoder).is_some())
        .map(|c| c.name)
        .collect();
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        for name in ["jpeg", "webp"] {
            assert!(
                found.contains(&name),
                "CI must have {name} (found {found:?})"
            );
        }
    }
    let mut codecs = vec!["cvq"];
    codecs.extend(&found);

    let prefix = dir.path().join("out/rd");
    let (d, p, list) = (
        data.to_str().unwrap(),
        prefix.to_str().unwrap(),
        codecs.join(","),
    );
    bench()
        .run(["--quiet", "--data", d, "--out", p, "--codecs", &list])
        .success()
        .stderr_has("broken.png")
        .stdout_has("| cvq |")
        .stdout_has("decode MAC / px");

    // CSV: per-image rows and mean rows, every codec, bpp > 0 and finite PSNR
    let mut rdr = csv::Reader::from_path(prefix.with_extension("csv")).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (c_codec, c_image, c_bpp, c_psnr, c_ms) = (
        col("codec"),
        col("image"),
        col("bpp"),
        col("psnr"),
        col("ms_ssim"),
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    for codec in &codecs {
        let mine: Vec<_> = rows.iter().filter(|r| &r[c_codec] == *codec).collect();
        assert!(
            mine.iter().any(|r| &r[c_image] == "kodim23-crop.png"),
            "{codec}"
        );
        assert!(mine.iter().any(|r| &r[c_image] == "mean"), "{codec}");
        for r in mine {
            let bpp: f64 = r[c_bpp].parse().unwrap();
            let psnr: f64 = r[c_psnr].parse().unwrap();
            assert!(bpp > 0.0 && bpp.is_finite(), "{r:?}");
            assert!(psnr.is_finite() && psnr > 5.0, "{r:?}");
            // 72 x 56 is below MS-SSIM's 161 px
            assert_eq!(&r[c_ms], "", "{r:?}");
        }
    }
    assert!(!rows.iter().any(|r| &r[c_image] == "broken.png"));

    // JSON: summary with means, speed and (with a classical codec) BD-rate entries
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(prefix.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(json["images"], serde_json::json!(["kodim23-crop.png"]));
    assert!(json["failures"][0]["image"] == "broken.png");
    let cvq = &json["cvq_models"];
    assert!(!cvq.as_array().unwrap().is_empty());
    assert!(cvq[0]["decoder_macs_per_pixel"].as_f64().unwrap() > 0.0);
    let speed = json["speed"].as_array().unwrap();
    assert_eq!(speed.len(), codecs.len());
    for s in speed {
        assert!(s["encode_ms"].as_f64().unwrap() > 0.0, "{s}");
        assert!(s["decode_ms"].as_f64().unwrap() > 0.0, "{s}");
    }
    let bd = json["bd_rate"].as_array().unwrap();
    assert_eq!(bd.len(), 2 * found.len());
    for e in bd {
        // a value or a reason, never both nor neither
        for m in ["pchip", "cubic"] {
            assert!(
                e[m]["percent"].is_null() != e[m]["unavailable"].is_null(),
                "{e}"
            );
            if let Some(v) = e[m]["percent"].as_f64() {
                assert!(v.is_finite() && v > -100.0, "{e}");
            }
        }
        if e["metric"] == "MS-SSIM-dB" {
            assert!(
                e["pchip"]["percent"].is_null(),
                "no MS-SSIM at 72 x 56: {e}"
            );
        }
    }

    for suffix in ["-psnr.svg", "-msssim.svg"] {
        let svg = std::fs::read_to_string(format!("{}{suffix}", prefix.display())).unwrap();
        assert!(svg.contains("<svg") && svg.contains("cvq"), "{suffix}");
    }
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    bench()
        .run(["--codecs", "gif", "--data", d])
        .fails(1)
        .stderr_has("unknown codec");
    let missing = dir.path().join("missing");
    bench()
        .run(["--codecs", "cvq", "--data", missing.to_str().unwrap()])
        .fails(1);
    bench()
        .run(["--codecs", "cvq", "--data", d])
        .fails(1)
        .stderr_has("no images");
}

/// `--tune ms-ssim` sweeps the MS-SSIM-tuned embedded models instead of the PSNR ladder.
#[test]
fn tune_ms_ssim_sweeps_the_ms_ssim_models() {
    let (dir, data) = one_image_dir();
    let prefix = dir.path().join("out/rd");
    let (d, p) = (data.to_str().unwrap(), prefix.to_str().unwrap());
    bench()
        .run([
            "--quiet", "--data", d, "--out", p, "--codecs", "cvq", "--tune", "ms-ssim",
        ])
        .success()
        .stdout_has("| cvq |");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(prefix.with_extension("json")).unwrap())
            .unwrap();
    let models = json["cvq_models"].as_array().unwrap();
    let settings: Vec<&str> = models
        .iter()
        .map(|m| m["setting"].as_str().unwrap())
        .collect();
    let want: Vec<String> = cvq::qualities_for(cvq::Tune::MsSsim)
        .map(|q| format!("ms-ssim-q{q}"))
        .collect();
    assert_eq!(settings, want);
    for (m, q) in models.iter().zip(cvq::qualities_for(cvq::Tune::MsSsim)) {
        let id = cvq::Model::embedded_tuned(q, cvq::Tune::MsSsim)
            .unwrap()
            .id();
        assert_eq!(m["id"].as_str().unwrap(), id);
    }
    // an unknown tune, and a tune beside model files, are usage errors
    bench()
        .run(["--data", d, "--tune", "sharp"])
        .fails(2)
        .stderr_has("unknown tune");
    bench()
        .run(["--data", d, "--tune", "ms-ssim", "--cvq-model", "x.cvqm"])
        .fails(2);
}

/// A recurrent model file adds a `cvq-rnn` curve, one point per iteration count with
/// real file sizes growing with the count, beside the embedded CVQN models.
#[test]
fn a_recurrent_model_file_adds_one_point_per_iteration_count() {
    let (dir, data) = one_image_dir();
    let model = dir.path().join("rnn.cvqm");
    std::fs::write(&model, tests::tiny_recurrent_model_file(8, 3)).unwrap();

    let prefix = dir.path().join("out/rd");
    bench()
        .run([
            "--quiet",
            "--data",
            data.to_str().unwrap(),
            "--out",
            prefix.to_str().unwrap(),
            "--codecs",
            "cvq",
            "--cvq-model",
            model.to_str().unwrap(),
        ])
        .success()
        .stdout_has("| cvq-rnn |");
    let mut rdr = csv::Reader::from_path(prefix.with_extension("csv")).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rnn: Vec<(String, u64)> = rows
        .iter()
        .filter(|r| &r[col("codec")] == "cvq-rnn" && &r[col("image")] != "mean")
        .map(|r| {
            (
                r[col("setting")].to_string(),
                r[col("bytes")].parse().unwrap(),
            )
        })
        .collect();
    let settings: Vec<&str> = rnn.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(settings, ["rnn-t1", "rnn-t2", "rnn-t3"]);
    assert!(rnn.windows(2).all(|w| w[0].1 < w[1].1), "{rnn:?}");
    // The embedded CVQN models still ran.
    assert!(rows.iter().any(|r| &r[col("codec")] == "cvq"));
    let svg = std::fs::read_to_string(format!("{}-psnr.svg", prefix.display())).unwrap();
    assert!(svg.contains("cvq-rnn"));
}
