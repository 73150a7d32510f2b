//! Helpers shared by the `cvq-train` CLI tests.

use std::path::{Path, PathBuf};

use tests::{Bin, Run};

/// The folder holding the 72×56 Kodak crop used as training data here.
pub fn data_dir() -> PathBuf {
    tests::golden_dir()
}

pub fn cvq_train() -> Bin {
    Bin::new(env!("CARGO_BIN_EXE_cvq-train"))
}

/// `cvq-train export` of `run` to `out` with weights at `precision` (f16 or f32); it
/// must succeed.
pub fn export(run: &Path, out: &Path, precision: &str) -> Run {
    cvq_train()
        .run([
            "export",
            "--run",
            run.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--precision",
            precision,
        ])
        .success()
}
