//! CPU smoke test of the recurrent family in `cvq-train`: `train` picks it from a
//! `rnn-…` preset, the loss falls, `--resume` continues the run, `export` writes a CVQR
//! model that the `cvq` library and CLI encode and decode at every iteration count, and
//! `eval` reports each iteration count from real files, and `--init-from` a model file
//! starts a run from its weights.

use std::path::Path;

use cvq_train::train::read_metrics;

mod common;

use common::{cvq_train, data_dir, export};

fn train(run: &Path, steps: u64, resume: bool) {
    train_with(run, steps, resume, &[]);
}

fn train_with(run: &Path, steps: u64, resume: bool, extra: &[&str]) {
    let steps = steps.to_string();
    let data = data_dir();
    let mut args = vec![
        "train",
        "--out",
        run.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--steps",
        &steps,
        "--log-every",
        "1",
    ];
    if resume {
        args.push("--resume");
    } else {
        args.extend([
            "--preset",
            "rnn-tiny",
            "--batch-size",
            "4",
            "--crop",
            "32",
            "--lr",
            "0.01",
            "--seed",
            "3",
        ]);
    }
    args.extend(extra);
    cvq_train().run(args).success();
}

#[test]
fn recurrent_run_learns_resumes_exports_and_evaluates_every_iteration_count() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(&run, 30, false);
    let config = std::fs::read_to_string(run.join("train.json")).unwrap();
    assert!(config.contains("\"cell\""), "{config}");
    assert!(
        config.contains("\"stochastic_binarizer\": true"),
        "{config}"
    );
    let rows = read_metrics(&run).unwrap();
    assert_eq!(rows.len(), 30);
    let mean = |r: &[cvq_train::train::MetricsRow]| r.iter().map(|r| r.loss).sum::<f64>() / 5.0;
    let (first, last) = (mean(&rows[..5]), mean(&rows[25..]));
    assert!(last < 0.8 * first, "L1 {first:.4} → {last:.4}");
    assert!(rows.iter().all(|r| r.bpp == 16.0 * 4.0 / 256.0));

    train(&run, 34, true);
    assert_eq!(read_metrics(&run).unwrap().len(), 34);

    let model = dir.path().join("rnn.cvqm");
    export(&run, &model, "f16").stdout_has("recurrent, 1..=16 iterations");
    assert_eq!(&std::fs::read(&model).unwrap()[..4], b"CVQR");

    let codec = cvq::Model::open(&model).unwrap();
    assert_eq!(codec.family(), cvq::ModelFamily::Recurrent);
    assert_eq!(codec.qualities(), (1..=16).collect::<Vec<u8>>());
    let img = cvq::io::read_image(&data_dir().join("kodim23-crop.png")).unwrap();
    let two = codec.encode_at(&img, 2).unwrap();
    let five = codec.encode_at(&img, 5).unwrap();
    assert!(two.bytes.len() < five.bytes.len());
    let decoded = codec.decode(&five.bytes).unwrap();
    assert_eq!((decoded.width, decoded.height), (72, 56));
    let partial = codec
        .decode_with(
            &five.bytes[..five.bytes.len() - 1],
            &cvq::Limits::default(),
            true,
        )
        .unwrap();
    assert_eq!((partial.groups_received, partial.groups), (4, 5));

    let prefix = dir.path().join("eval");
    cvq_train()
        .run([
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--data",
            data_dir().to_str().unwrap(),
            "-o",
            prefix.to_str().unwrap(),
        ])
        .success();
    let bpp = |t: u32| -> f64 {
        let path = dir.path().join(format!("eval-q{t}.json"));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(report["quality"], t);
        report["mean"]["bpp"].as_f64().unwrap()
    };
    // Real files: the 2-iteration row is the size of the 2-iteration encode above.
    assert!((bpp(2) - 8.0 * two.bytes.len() as f64 / (72.0 * 56.0)).abs() < 1e-9);
    assert!(bpp(1) < bpp(8) && bpp(8) < bpp(16));

    // Fine-tuning from the model file: a run started from it holds its weights (f16
    // widened to f32), so exporting that run at step 0 writes the same file again.
    let tuned = dir.path().join("tuned");
    let start_from = |preset: &str| {
        cvq_train().run([
            "train",
            "--out",
            tuned.to_str().unwrap(),
            "--data",
            data_dir().to_str().unwrap(),
            "--steps",
            "0",
            "--preset",
            preset,
            "--batch-size",
            "4",
            "--crop",
            "32",
            "--init-from",
            model.to_str().unwrap(),
        ])
    };
    start_from("rnn-tiny").success();
    let again = dir.path().join("again.cvqm");
    export(&tuned, &again, "f16");
    assert!(std::fs::read(&again).unwrap() == std::fs::read(&model).unwrap());
    // Another architecture is refused with a message, not a panic.
    std::fs::remove_dir_all(&tuned).unwrap();
    start_from("rnn-compact")
        .fails(1)
        .stderr_has("whose configuration differs");
}

/// `--binarizer deterministic` trains with the inference's sign (straight-through), is
/// recorded in `train.json`, and learns.
#[test]
fn a_run_with_the_deterministic_binarizer_learns() {
    option_is_recorded_and_learns(
        &["--binarizer", "deterministic"],
        "\"stochastic_binarizer\": false",
    );
}

/// `--iteration-weights relative` is recorded in `train.json` and the run learns (the
/// loss it logs is the plain L1 either way).
#[test]
fn a_run_with_relative_iteration_weights_learns() {
    option_is_recorded_and_learns(
        &["--iteration-weights", "relative"],
        "\"iteration_weighting\": \"relative\"",
    );
}

/// Trains 30 steps with `args`; `train.json` contains `recorded`, and the mean L1 of
/// the last five logged steps is below 0.8 × the first five's.
fn option_is_recorded_and_learns(args: &[&str], recorded: &str) {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train_with(&run, 30, false, args);
    let config = std::fs::read_to_string(run.join("train.json")).unwrap();
    assert!(config.contains(recorded), "{config}");
    let rows = read_metrics(&run).unwrap();
    let mean = |r: &[cvq_train::train::MetricsRow]| r.iter().map(|r| r.loss).sum::<f64>() / 5.0;
    let (first, last) = (mean(&rows[..5]), mean(&rows[25..]));
    assert!(last < 0.8 * first, "L1 {first:.4} → {last:.4}");
}

/// `--loss ms-ssim --weight α` adds `α · (1 − MS-SSIM)` over the iterations to the L1:
/// refused below MS-SSIM's minimum crop with a message naming 176; at 176² it is
/// recorded in `train.json`, `metrics.csv` has the loss above its L1 part by the
/// MS-SSIM term and the last iteration's MS-SSIM, and the loss falls.
#[test]
fn a_run_with_an_ms_ssim_term_logs_it_and_learns() {
    let dir = tempfile::tempdir().unwrap();
    // the golden crop is too small for 176² crops: the 768×512 example photo instead
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/balloons.png"),
        data.join("balloons.png"),
    )
    .unwrap();
    let run = dir.path().join("run");
    let args = |crop: &'static str| {
        vec![
            "train".to_string(),
            "--out".into(),
            run.to_str().unwrap().into(),
            "--data".into(),
            data.to_str().unwrap().into(),
            "--steps".into(),
            "16".into(),
            "--log-every".into(),
            "1".into(),
            "--preset".into(),
            "rnn-tiny".into(),
            "--batch-size".into(),
            "1".into(),
            "--crop".into(),
            crop.into(),
            "--lr".into(),
            "0.01".into(),
            "--seed".into(),
            "5".into(),
            "--loss".into(),
            "ms-ssim".into(),
            "--weight".into(),
            "0.5".into(),
        ]
    };
    cvq_train().run(args("32")).fails(1).stderr_has("176");
    cvq_train().run(args("176")).success();
    let config = std::fs::read_to_string(run.join("train.json")).unwrap();
    assert!(config.contains("\"ms_ssim_weight\": 0.5"), "{config}");
    let rows = read_metrics(&run).unwrap();
    assert_eq!(rows.len(), 16);
    for r in &rows {
        let ms = r.ms_ssim.expect("MS-SSIM logged");
        assert!((0.0..=1.0).contains(&ms), "{ms}");
        // the mean over the iterations is at most 1, so the term is at most α
        assert!(
            r.loss > r.distortion && r.loss <= r.distortion + 0.5 + 1e-6,
            "{r:?}"
        );
    }
    let mean = |r: &[cvq_train::train::MetricsRow]| r.iter().map(|r| r.loss).sum::<f64>() / 4.0;
    let (first, last) = (mean(&rows[..4]), mean(&rows[12..]));
    assert!(last < 0.9 * first, "loss {first:.4} → {last:.4}");
}
