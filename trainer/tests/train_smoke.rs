//! CPU smoke tests of `cvq-train`: a short run learns (the loss falls), its export
//! encodes and decodes through the `cvq` library (and a run started from that file holds its
//! weights), and an interrupted-and-resumed run ends
//! bit-identical to an uninterrupted one.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData};
use cvq_core::config::{CvqnConfig, Preset};
use cvq_core::loss::Distortion;
use cvq_train::train::{TrainConfig, TrainOptions, load_trained, read_metrics, train};
use tests::write_test_png;

mod common;

use common::{cvq_train, data_dir, export};

fn tiny_config(steps: u64) -> TrainConfig {
    let mut cfg = TrainConfig::new(CvqnConfig::preset(Preset::Tiny));
    cfg.loss.distortion = Distortion::Mse { lambda: 0.05 };
    cfg.steps = steps;
    cfg.batch_size = 2;
    cfg.crop = 48;
    cfg.lr = 3e-3;
    cfg.lr_quantizer = 1e-3;
    cfg.lr_milestones = vec![steps * 3 / 4];
    cfg.log_every = 1;
    cfg.workers = 2;
    cfg.seed = 7;
    cfg
}

fn options(run: &Path, resume: bool) -> TrainOptions {
    TrainOptions {
        run: run.to_path_buf(),
        data: data_dir(),
        resume,
        init_from: None,
        stop_after: None,
        progress: false,
        workers: None,
    }
}

type Train = Autodiff<Flex>;

/// Model initialisation draws from Burn's process-wide RNG (seeded per run), so runs
/// in concurrently executing tests would interleave their draws: tests that train
/// hold this lock.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn loss_falls_then_export_encode_decode() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let never = AtomicBool::new(false);
    let summary = train::<Train>(
        Some(tiny_config(60)),
        None,
        &options(&run, false),
        &never,
        &Default::default(),
    )
    .unwrap();
    assert!(summary.finished);
    assert_eq!(summary.last_step, 60);
    let rows = read_metrics(&run).unwrap();
    assert_eq!(rows.len(), 60);
    let mean =
        |r: &[cvq_train::train::MetricsRow]| r.iter().map(|r| r.loss).sum::<f64>() / r.len() as f64;
    let (first, last) = (mean(&rows[..10]), mean(&rows[50..]));
    assert!(
        last < 0.8 * first,
        "loss did not fall: first 10 steps {first:.3}, last 10 {last:.3}"
    );

    let model = dir.path().join("m.cvqm");
    export(&run, &model, "f16");

    // The exported model file encodes and decodes with the codec library.
    let codec = cvq::Model::open(&model).unwrap();
    let png = cvq::io::read_image(&data_dir().join("kodim23-crop.png")).unwrap();
    let cvq_file = codec.encode(&png).unwrap().bytes;
    let options = cvq::Options::default().with_model(codec);
    let decoded = cvq::decode_with(&cvq_file, &options).unwrap().image;
    assert_eq!((decoded.width, decoded.height), (72, 56));

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
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(prefix.with_extension("json")).unwrap())
            .unwrap();
    let first = &report["images"][0];
    assert_eq!(first["image"], "kodim23-crop.png");
    let real = first["bpp"].as_f64().unwrap();
    let estimated = first["estimated_bpp"].as_f64().unwrap();
    assert!((real - first["bytes"].as_f64().unwrap() * 8.0 / (72.0 * 56.0)).abs() < 1e-12);
    assert!(
        estimated > 0.0 && estimated < real,
        "estimate {estimated} vs file {real}"
    );
    let csv = std::fs::read_to_string(prefix.with_extension("csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "header, one image, mean:\n{csv}");

    let svg = dir.path().join("curves.svg");
    cvq_train()
        .run([
            "plot",
            "--run",
            run.to_str().unwrap(),
            "-o",
            svg.to_str().unwrap(),
        ])
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.contains("<svg") && text.contains("polyline"),
        "no curves drawn"
    );

    // Fine-tuning from a model file: a run started from it holds its weights and channel
    // order, so exporting that run at step 0 writes the same file again. (f32 files: the
    // integer entropy tables are computed from the f32 weights at export, so an f16 file's
    // tables differ slightly from those of its widened weights, while the weights match.)
    let full = dir.path().join("full.cvqm");
    export(&run, &full, "f32");
    let tuned = dir.path().join("tuned");
    let from_file = TrainOptions {
        init_from: Some(full.clone()),
        ..crate::options(&tuned, false)
    };
    train::<Train>(
        Some(tiny_config(0)),
        None,
        &from_file,
        &never,
        &Default::default(),
    )
    .unwrap();
    let again = dir.path().join("again.cvqm");
    export(&tuned, &again, "f32");
    assert!(std::fs::read(&again).unwrap() == std::fs::read(&full).unwrap());
}

/// Reconstruction of a fixed input: equal outputs mean equal weights and order.
fn fingerprint(run: &Path) -> Vec<f32> {
    let device = Default::default();
    let (model, _, _) = load_trained::<Flex>(run, &device).unwrap();
    let x: Vec<f32> = (0..3 * 32 * 32).map(|i| (i % 97) as f32 / 97.0).collect();
    let x = Tensor::<Flex, 4>::from_data(TensorData::new(x, [1, 3, 32, 32]), &device);
    model
        .forward(x)
        .reconstruction
        .into_data()
        .into_vec()
        .unwrap()
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let never = AtomicBool::new(false);
    let device = Default::default();
    let whole = dir.path().join("whole");
    train::<Train>(
        Some(tiny_config(12)),
        None,
        &options(&whole, false),
        &never,
        &device,
    )
    .unwrap();

    let parts = dir.path().join("parts");
    let first = train::<Train>(
        Some(tiny_config(12)),
        Some(5),
        &options(&parts, false),
        &never,
        &device,
    )
    .unwrap();
    assert_eq!(first.last_step, 5);
    // A new run may not overwrite an existing one.
    let err = train::<Train>(
        Some(tiny_config(12)),
        None,
        &options(&parts, false),
        &never,
        &device,
    )
    .unwrap_err();
    assert!(err.to_string().contains("--resume"), "{err}");
    let second = train::<Train>(None, Some(12), &options(&parts, true), &never, &device).unwrap();
    assert_eq!((second.first_step, second.last_step), (5, 12));

    let losses =
        |run: &Path| -> Vec<f64> { read_metrics(run).unwrap().iter().map(|r| r.loss).collect() };
    assert_eq!(losses(&whole), losses(&parts), "per-step losses differ");
    let (a, b) = (fingerprint(&whole), fingerprint(&parts));
    let differing = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x.to_bits() != y.to_bits())
        .count();
    assert_eq!(
        differing,
        0,
        "{differing} of {} output values differ",
        a.len()
    );
}

#[test]
fn stop_flag_checkpoints_and_resume_needs_a_checkpoint() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let stop = AtomicBool::new(true);
    let s = train::<Train>(
        Some(tiny_config(50)),
        None,
        &options(&run, false),
        &stop,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(
        s.last_step, 1,
        "a set stop flag ends the run after one step"
    );
    assert!(!s.finished);
    assert_eq!(read_metrics(&run).unwrap().len(), 1);

    let err = train::<Train>(
        None,
        None,
        &options(&dir.path().join("nothing"), true),
        &AtomicBool::new(false),
        &Default::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("train.json"), "{err}");
}

#[test]
fn re_importance_reorders_channels_during_training() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for k in 0..2u32 {
        write_test_png(&data.join(format!("{k}.png")), 192, 192, k);
    }
    let mut cfg = tiny_config(4);
    cfg.model.importance = cvq_core::config::ImportanceKind::Re;
    cfg.re_every = 2;
    cfg.re_images = 1;
    let run = dir.path().join("run");
    let opts = TrainOptions {
        data: data.clone(),
        ..options(&run, false)
    };
    train::<Train>(
        Some(cfg),
        None,
        &opts,
        &AtomicBool::new(false),
        &Default::default(),
    )
    .unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("checkpoint/state.json")).unwrap())
            .unwrap();
    let mut order: Vec<u64> = state["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    order.sort();
    assert_eq!(
        order,
        (0..8).collect::<Vec<u64>>(),
        "the stored order is a permutation"
    );

    // Too small for MS-SSIM: refused up front.
    let mut cfg = tiny_config(4);
    cfg.model.importance = cvq_core::config::ImportanceKind::Re;
    let err = train::<Train>(
        Some(cfg),
        None,
        &options(&dir.path().join("small"), false),
        &AtomicBool::new(false),
        &Default::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("176"), "{err}");
}

#[test]
fn variable_rate_run_trains_every_rate_point_and_exports_all_qualities() {
    use cvq_core::codec::{CodecModel, RgbImage};
    use cvq_entropy::WeightPrecision;
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("vr");
    let mut cfg = tiny_config(24);
    cfg.model.rate_points = Some(3);
    cfg.rate_weights = vec![0.01, 0.05, 0.2];
    let never = AtomicBool::new(false);
    train::<Train>(
        Some(cfg),
        None,
        &options(&run, false),
        &never,
        &Default::default(),
    )
    .unwrap();
    let rows = read_metrics(&run).unwrap();
    assert_eq!(rows.len(), 24);
    let mut seen: Vec<usize> = rows.iter().map(|r| r.rate_point.unwrap()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen, vec![0, 1, 2], "every rate point was trained");
    let device = Default::default();
    let (model, cfg, _) = load_trained::<Flex>(&run, &device).unwrap();
    let (codec, _) =
        CodecModel::freeze(model, cfg.model, 2, WeightPrecision::F32, &device).unwrap();
    assert_eq!(codec.qualities(), vec![1, 2, 3]);
    let image = RgbImage::new(
        40,
        24,
        (0..40 * 24 * 3).map(|i| (i * 7 % 251) as u8).collect(),
    )
    .unwrap();
    for q in 1..=3 {
        let enc = codec.encode_at(&image, q).unwrap();
        let decoded = codec.decode(&enc.bytes).unwrap();
        assert_eq!((decoded.width, decoded.height), (40, 24));
    }
}

#[test]
fn a_checkpoint_without_optimizer_state_resumes_with_a_warm_restart() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("trunk");
    let never = AtomicBool::new(false);
    let device = Default::default();
    train::<Train>(
        Some(tiny_config(8)),
        Some(4),
        &options(&run, false),
        &never,
        &device,
    )
    .unwrap();
    // What a weights-only trunk (kept in git) looks like: no Adam moments.
    std::fs::remove_file(run.join("checkpoint/optimizer.mpk")).unwrap();
    let s = train::<Train>(None, Some(8), &options(&run, true), &never, &device).unwrap();
    assert_eq!((s.first_step, s.last_step), (4, 8));
    assert!(s.finished);
    assert_eq!(read_metrics(&run).unwrap().len(), 8);
    assert!(
        run.join("checkpoint/optimizer.mpk").exists(),
        "new state is saved"
    );
}
