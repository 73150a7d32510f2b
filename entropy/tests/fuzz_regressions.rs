//! Replays every input under `tests/fuzz_regressions/decode_file/`,
//! `tests/fuzz_regressions/decode_bits/` and `tests/fuzz_regressions/parse_model_file/`
//! (seeds and any crash found by the fuzz targets of the same names in `entropy/fuzz`)
//! through the targets' bodies. None may panic.

mod fuzz_harness;

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn replay_decode_file_inputs() {
    for input in inputs("decode_file") {
        fuzz_harness::decode_file(&input);
    }
}

#[test]
fn replay_decode_bits_inputs() {
    for input in inputs("decode_bits") {
        fuzz_harness::decode_bits(&input);
    }
}

#[test]
fn replay_parse_model_file_inputs() {
    for input in inputs("parse_model_file") {
        fuzz_harness::parse_model_file(&input);
    }
}

/// A small in-process campaign for the model-file parsers: 3000 pseudo-random edit
/// lists (up to 40 edits of a valid file of each kind, digest made valid again).
#[test]
fn random_model_file_edits_never_panic() {
    let mut state = 0x2545_f491_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    for i in 0..3000u32 {
        let len = 2 + 3 * (next() % 41) as usize;
        let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        input[0] = (i % 4) as u8;
        fuzz_harness::parse_model_file(&input);
    }
}

/// A small in-process campaign on top of the seeds: 2000 pseudo-random inputs of up to
/// 96 bytes through the `decode_bits` body (the cargo-fuzz target explores further).
#[test]
fn random_decode_bits_inputs_never_panic() {
    let mut state = 0x9e37_79b9_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    for _ in 0..2000 {
        let len = (next() % 97) as usize;
        let input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        fuzz_harness::decode_bits(&input);
    }
}
