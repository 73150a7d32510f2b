//! Golden file: `tests/fixtures/golden_v1.cvq` must be reproduced
//! byte-for-byte by the writer + coder and parsed by the reader, so any
//! change of the format or of the entropy coder's output is noticed.
//!
//! To regenerate after an *intentional* format change (bump the version!):
//! `CVQ_BLESS=1 cargo test -p cvq-bitstream --test golden`.

use std::path::PathBuf;

use cvq_bitstream::coder::{IntCdf, SymbolDecoder, SymbolEncoder};
use cvq_bitstream::format::{
    EntropyModelKind, FileHeader, GroupHeader, Limits, ModelId, Permutation, read_file,
    read_prefix, write_file,
};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden_v1.cvq")
}

/// 40x24 image -> 2x3 latent; C = 6 channels in 3 groups of 2 channels with
/// 3 / 5 / 7 levels, i.e. 12 symbols per group.
fn golden_header() -> FileHeader {
    FileHeader {
        width: 40,
        height: 24,
        model: ModelId::new("cvq-golden", [1, 2, 3, 4, 5, 6, 7, 8]).unwrap(),
        quality: 5,
        entropy_model: EntropyModelKind::Context3d,
        permutation: Permutation::new(vec![3, 0, 5, 1, 4, 2]).unwrap(),
        groups: vec![
            GroupHeader {
                levels: 3,
                channels: 2,
            },
            GroupHeader {
                levels: 5,
                channels: 2,
            },
            GroupHeader {
                levels: 7,
                channels: 2,
            },
        ],
    }
}

/// Adaptive toy model: the CDF of each symbol is built from weights that
/// favour the previous symbol (exercises per-symbol `from_weights`).
fn model_for(levels: usize, prev: usize) -> IntCdf {
    let w: Vec<u32> = (0..levels)
        .map(|s| if s == prev { 40 } else { 1 + (s as u32 % 3) })
        .collect();
    IntCdf::from_weights(&w).unwrap()
}

fn golden_symbols(group: usize, levels: usize) -> Vec<usize> {
    (0..12)
        .map(|i| (i * (group + 2) + i / 3) % levels)
        .collect()
}

fn golden_payloads(header: &FileHeader) -> Vec<Vec<u8>> {
    header
        .groups
        .iter()
        .enumerate()
        .map(|(g, gh)| {
            let levels = usize::from(gh.levels);
            let mut enc = SymbolEncoder::new();
            let mut prev = levels / 2;
            for s in golden_symbols(g, levels) {
                enc.encode(s, &model_for(levels, prev)).unwrap();
                prev = s;
            }
            enc.finish()
        })
        .collect()
}

#[test]
fn golden_v1() {
    let header = golden_header();
    let payloads = golden_payloads(&header);
    let bytes = write_file(&header, &payloads).unwrap();
    let path = fixture();
    if std::env::var_os("CVQ_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
    }
    let golden = std::fs::read(&path).expect("golden file missing; run with CVQ_BLESS=1");
    assert_eq!(
        bytes, golden,
        "writer/coder output changed: the format is frozen for v1"
    );

    let file = read_file(&golden, &Limits::default()).unwrap();
    assert_eq!(file.header, header);
    assert_eq!(file.header_len, 58);
    for (g, payload) in file.payloads.iter().enumerate() {
        let levels = usize::from(header.groups[g].levels);
        let mut dec = SymbolDecoder::new(payload);
        let mut prev = levels / 2;
        let mut out = Vec::new();
        for _ in 0..header.group_symbol_count(g).unwrap() {
            let s = dec.decode(&model_for(levels, prev)).unwrap();
            out.push(s);
            prev = s;
        }
        dec.finish().unwrap();
        assert_eq!(out, golden_symbols(g, levels));
    }
    let partial = read_prefix(&golden[..golden.len() - 1], &Limits::default()).unwrap();
    assert_eq!(partial.complete_groups(), 2);
}
