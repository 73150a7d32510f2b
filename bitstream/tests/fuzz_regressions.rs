//! Replays every file under `tests/fuzz_regressions/` (crashes found by the
//! cargo-fuzz targets in `fuzz/`, plus a few seed inputs from their corpora)
//! through both fuzz harness bodies. None may panic.

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.file_name().is_some_and(|n| n != "README.md") {
            out.push(path);
        }
    }
}

#[test]
fn replay_fuzz_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let result = std::panic::catch_unwind(|| {
            cvq_bitstream::fuzzing::parse_header(&data);
            cvq_bitstream::fuzzing::decode_symbols(&data);
        });
        assert!(result.is_ok(), "panic on {}", path.display());
    }
}

#[test]
fn golden_file_passes_the_harnesses() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden_v1.cvq");
    if let Ok(data) = std::fs::read(golden) {
        cvq_bitstream::fuzzing::parse_header(&data);
        for len in 0..=data.len() {
            cvq_bitstream::fuzzing::parse_header(&data[..len]);
        }
    }
}
