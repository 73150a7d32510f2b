//! Replays every input under `tests/fuzz_regressions/decode_file/` (seeds and any
//! crash found by the `decode_file` fuzz target in `entropy/fuzz`) through the
//! target's body. None may panic.

mod fuzz_harness;

#[test]
fn replay_decode_file_inputs() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions/decode_file");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    for path in files {
        fuzz_harness::decode_file(&std::fs::read(&path).unwrap());
    }
}
