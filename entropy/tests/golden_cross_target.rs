//! Cross-target conformance: the golden `.cvq` files decode to the recorded symbol
//! hashes with the integer entropy models of their model files. No Burn and no file
//! system (fixtures are compiled in), so this runs unchanged on x86-64 and on wasm32
//! (`.ci/run` runs it under Node's WASI: `cargo test --target wasm32-wasip1`).

use cvq_bitstream::format::{Limits, read_file, read_prefix};
use cvq_entropy::{EntropyError, ModelFile, decode_stored};
use sha2::{Digest, Sha256};

const HASHES: &str = include_str!("fixtures/golden/hashes.txt");

const CASES: [(&str, &[u8], &[u8]); 2] = [
    (
        "tiny-parallel",
        include_bytes!("fixtures/golden/tiny-parallel.cvqm"),
        include_bytes!("fixtures/golden/tiny-parallel.cvq"),
    ),
    (
        "tiny-context3d",
        include_bytes!("fixtures/golden/tiny-context3d.cvqm"),
        include_bytes!("fixtures/golden/tiny-context3d.cvq"),
    ),
];

fn symbols_hash(symbols: &[Vec<usize>]) -> String {
    let flat: Vec<u8> = symbols.iter().flatten().map(|&s| s as u8).collect();
    Sha256::digest(&flat)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn expected_hash(name: &str) -> &'static str {
    HASHES
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| {
            l.split_whitespace()
                .find_map(|f| f.strip_prefix("symbols="))
        })
        .expect("hash line")
}

#[test]
fn golden_files_decode_to_recorded_symbols() {
    for (name, model, file) in CASES {
        let model = ModelFile::from_bytes(model).unwrap();
        let cvq = read_file(file, &Limits::default()).unwrap();
        assert_eq!(cvq.header.model.hash, model.hash().unwrap(), "{name}");
        let stored: Vec<Option<&[u8]>> = cvq.payloads.iter().map(|p| Some(*p)).collect();
        let decoded = decode_stored(&model.entropy, &cvq.header, &stored).unwrap();
        assert_eq!(
            symbols_hash(&decoded.symbols),
            expected_hash(name),
            "{name}"
        );
        // Re-encoding the decoded symbols gives the stored payloads back.
        let (lh, lw) = cvq.header.latent_size();
        let payloads = model
            .entropy
            .encode(&decoded.symbols, lh as usize, lw as usize)
            .unwrap();
        let stored_again: Vec<&[u8]> = payloads.iter().rev().map(Vec::as_slice).collect();
        assert_eq!(stored_again, cvq.payloads, "{name}");
    }
}

#[test]
fn golden_prefixes_decode_or_fail_cleanly() {
    for (name, model, file) in CASES {
        let model = ModelFile::from_bytes(model).unwrap();
        for cut in 0..=file.len() {
            let Ok(p) = read_prefix(&file[..cut], &Limits::default()) else {
                continue;
            };
            let mut stored: Vec<Option<&[u8]>> = p.complete.iter().map(|s| Some(*s)).collect();
            stored.resize(p.header.groups.len(), None);
            let d = decode_stored(&model.entropy, &p.header, &stored).unwrap();
            assert_eq!(d.groups_received, p.complete_groups(), "{name} cut {cut}");
        }
    }
}

#[test]
fn bit_flipped_payloads_never_panic() {
    for (_, model, file) in CASES {
        let model = ModelFile::from_bytes(model).unwrap();
        let cvq = read_file(file, &Limits::default()).unwrap();
        for (g, payload) in cvq.payloads.iter().enumerate() {
            for i in 0..payload.len() * 8 {
                let mut p = payload.to_vec();
                p[i / 8] ^= 1 << (i % 8);
                let mut stored: Vec<Option<&[u8]>> =
                    cvq.payloads.iter().map(|p| Some(*p)).collect();
                stored[g] = Some(&p);
                match decode_stored(&model.entropy, &cvq.header, &stored) {
                    Ok(d) => assert_eq!(d.symbols.len(), 3),
                    Err(EntropyError::Coder(_)) => {}
                    Err(e) => panic!("unexpected error {e}"),
                }
            }
        }
    }
}
