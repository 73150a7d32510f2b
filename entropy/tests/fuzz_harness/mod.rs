//! Body of the `decode_file` fuzz target (`entropy/fuzz`), shared with the replay test
//! `tests/fuzz_regressions.rs` so every finding is re-run by `cargo test`.
//!
//! Input: byte 0 picks a golden model (parallel / 3D context). The rest is tried
//! (1) as a raw `.cvq` file, complete and as a prefix, and (2) structured: the golden
//! file's header with width/height taken from bytes 1–2 (1..=256 each) and the
//! remaining bytes split into the three group payloads at offsets given by bytes 3–4,
//! written with valid CRCs so the entropy decoder sees arbitrary payloads. Decoding
//! must never panic; it either fails with a typed error or yields symbols in range that
//! re-encode and decode back to themselves.

use std::sync::OnceLock;

use cvq_bitstream::format::{FileHeader, Limits, read_file, read_prefix, write_file};
use cvq_entropy::{EntropyError, ModelFile, decode_stored};

const MODELS: [(&[u8], &[u8]); 2] = [
    (
        include_bytes!("../fixtures/golden/tiny-parallel.cvqm"),
        include_bytes!("../fixtures/golden/tiny-parallel.cvq"),
    ),
    (
        include_bytes!("../fixtures/golden/tiny-context3d.cvqm"),
        include_bytes!("../fixtures/golden/tiny-context3d.cvq"),
    ),
];

fn models() -> &'static [(ModelFile, FileHeader); 2] {
    static CELL: OnceLock<[(ModelFile, FileHeader); 2]> = OnceLock::new();
    CELL.get_or_init(|| {
        MODELS.map(|(m, f)| {
            (
                ModelFile::from_bytes(m).expect("golden model"),
                read_file(f, &Limits::default())
                    .expect("golden file")
                    .header,
            )
        })
    })
}

fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_pixels = 256 * 256;
    l
}

fn check(model: &ModelFile, header: &FileHeader, stored: &[Option<&[u8]>]) {
    match decode_stored(&model.entropy, header, stored) {
        Ok(d) => {
            let shapes = model.entropy.shapes();
            let (lh, lw) = header.latent_size();
            for (s, shape) in d.symbols.iter().zip(&shapes) {
                assert_eq!(s.len(), shape.channels * (lh * lw) as usize);
                assert!(s.iter().all(|&x| x < shape.levels));
            }
            let again = model
                .entropy
                .encode(&d.symbols, lh as usize, lw as usize)
                .expect("decoded symbols re-encode");
            let present: Vec<Option<&[u8]>> = again.iter().map(|p| Some(p.as_slice())).collect();
            let back = model
                .entropy
                .decode(&present, lh as usize, lw as usize)
                .expect("re-encoded symbols decode");
            assert_eq!(back, d.symbols);
        }
        Err(EntropyError::Coder(_) | EntropyError::Layout(_) | EntropyError::TooLarge { .. }) => {}
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// The fuzz target body.
pub fn decode_file(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (model, golden) = &models()[usize::from(sel) % 2];
    // (1) raw file
    if let Ok(f) = read_file(rest, &limits()) {
        let stored: Vec<Option<&[u8]>> = f.payloads.iter().map(|p| Some(*p)).collect();
        check(model, &f.header, &stored);
    }
    if let Ok(p) = read_prefix(rest, &limits()) {
        let mut stored: Vec<Option<&[u8]>> = p.complete.iter().map(|s| Some(*s)).collect();
        stored.resize(p.header.groups.len(), None);
        check(model, &p.header, &stored);
    }
    // (2) structured: golden header, fuzzed size and payloads
    if rest.len() < 4 {
        return;
    }
    let mut header = golden.clone();
    header.width = 1 + u32::from(rest[0]);
    header.height = 1 + u32::from(rest[1]);
    let body = &rest[4..];
    let a = usize::from(rest[2]).min(body.len());
    let b = (a + usize::from(rest[3])).min(body.len());
    let payloads = [&body[..a], &body[a..b], &body[b..]];
    let file = write_file(&header, &payloads).expect("golden header re-serialises");
    let parsed = read_file(&file, &limits()).expect("file just written parses");
    let stored: Vec<Option<&[u8]>> = parsed.payloads.iter().map(|p| Some(*p)).collect();
    check(model, &parsed.header, &stored);
}

/// Body of the `decode_bits` fuzz target: the recurrent family's bit models on arbitrary
/// payloads. Bytes 0–2 give the plane shape `(1..=8, 1..=16, 1..=16)`, byte 3 where the
/// rest splits into the payloads of two iterations (the second coded with the first's
/// bits as context), byte 4's low bit the model. Decoding must never panic; decoded bits
/// are 0/1 and re-encode and decode back to themselves.
pub fn decode_bits(data: &[u8]) {
    use cvq_entropy::binary::{self, BitModel};
    let [c, h, w, split, which, rest @ ..] = data else {
        return;
    };
    let shape = (
        1 + usize::from(*c % 8),
        1 + usize::from(*h % 16),
        1 + usize::from(*w % 16),
    );
    let model = if which & 1 == 0 {
        BitModel::Mixing
    } else {
        BitModel::Counts
    };
    let split = usize::from(*split).min(rest.len());
    let (first, second) = rest.split_at(split);
    let Ok(planes) = binary::decode_planes(&[first, second], shape, model) else {
        return;
    };
    assert!(planes.iter().flatten().all(|&b| b <= 1));
    let refs: Vec<&[u8]> = planes.iter().map(Vec::as_slice).collect();
    let again = binary::encode_planes(&refs, shape, model).expect("bits re-encode");
    let again: Vec<&[u8]> = again.iter().map(Vec::as_slice).collect();
    let back = binary::decode_planes(&again, shape, model).expect("re-encoded bits decode");
    assert_eq!(back, planes);
}

/// Model files of every kind the parsers accept: the golden CVQN model (`CVQM`), its
/// decoder-only cut (`CVQD`), and small recurrent files, full (`CVQR`) and decoder-only
/// (`CVRD`).
fn model_files() -> &'static [Vec<u8>; 4] {
    use cvq_entropy::{ModelKind, RecurrentModelFile, WeightPrecision};
    static CELL: OnceLock<[Vec<u8>; 4]> = OnceLock::new();
    CELL.get_or_init(|| {
        let cvqm = MODELS[0].0.to_vec();
        let full = ModelFile::from_bytes(&cvqm).expect("golden model");
        let cvqd = ModelFile {
            kind: ModelKind::DecoderOnly {
                model_hash: full.hash().expect("hash"),
            },
            ..full
        };
        let rnn = RecurrentModelFile {
            kind: ModelKind::Full,
            name: "rnn-fuzz".into(),
            config_json: r#"{"name":"rnn-fuzz","bits":4}"#.into(),
            precision: WeightPrecision::F16,
            weights: (0..64u8).collect(),
        };
        let rnn_cut = RecurrentModelFile {
            kind: ModelKind::DecoderOnly {
                model_hash: rnn.hash().expect("hash"),
            },
            weights: (0..16u8).collect(),
            ..rnn.clone()
        };
        [
            cvqm,
            cvqd.to_bytes().expect("cvqd"),
            rnn.to_bytes().expect("cvqr"),
            rnn_cut.to_bytes().expect("cvrd"),
        ]
    })
}

/// Body of the `parse_model_file` fuzz target: both model-file parsers (CVQN
/// [`ModelFile`], recurrent [`RecurrentModelFile`](cvq_entropy::RecurrentModelFile)) on
/// (1) the input as it is and (2) one of the four valid files of [`model_files`] (byte 0)
/// edited by the input — byte 1 sets the length (kept, cut or extended with the input's
/// bytes), then `(offset_hi, offset_lo, xor)` triples — with its SHA-256 digest made valid
/// again, so the parsers' structure checks (lengths, UTF-8, precision, entropy blocks)
/// see the damage rather than the digest check. Parsing must never panic; a file that
/// parses must re-serialise to bytes that parse to the same value, and
/// [`model_identity`](cvq_entropy::model_identity) must state its name and hash.
pub fn parse_model_file(data: &[u8]) {
    parse_both(data);
    let [pick, len, edits @ ..] = data else {
        return;
    };
    let mut bytes = model_files()[usize::from(*pick) % 4].clone();
    match *len {
        0..=127 => {}
        128..=191 => bytes.truncate(bytes.len() * usize::from(len - 128) / 64),
        _ => bytes.extend_from_slice(edits),
    }
    for e in edits.chunks_exact(3) {
        if bytes.is_empty() {
            break;
        }
        let at = (usize::from(e[0]) << 8 | usize::from(e[1])) % bytes.len();
        bytes[at] ^= e[2];
    }
    reseal(&mut bytes);
    parse_both(&bytes);
}

/// Replaces the last 32 bytes with the SHA-256 of the bytes before them.
fn reseal(bytes: &mut [u8]) {
    use sha2::{Digest, Sha256};
    if bytes.len() < 32 {
        return;
    }
    let (body, digest) = bytes.split_at_mut(bytes.len() - 32);
    digest.copy_from_slice(&Sha256::digest(body));
}

fn parse_both(bytes: &[u8]) {
    use cvq_entropy::{RecurrentModelFile, model_identity};
    // the stated identity never panics, and a file that parses states its real hash
    let id = model_identity(bytes);
    if let Ok(m) = ModelFile::from_bytes(bytes) {
        let id = id.as_ref().expect("a parsed model states its identity");
        assert_eq!((&id.name, id.hash), (&m.name, m.hash().expect("hash")));
        let again = m.to_bytes().expect("a parsed model re-serialises");
        assert_eq!(
            ModelFile::from_bytes(&again).expect("re-serialised model parses"),
            m
        );
    }
    if let Ok(m) = RecurrentModelFile::from_bytes(bytes) {
        let id = id.as_ref().expect("a parsed model states its identity");
        assert_eq!((&id.name, id.hash), (&m.name, m.hash().expect("hash")));
        let again = m.to_bytes().expect("a parsed model re-serialises");
        let back = RecurrentModelFile::from_bytes(&again).expect("re-serialised model parses");
        assert_eq!(back, m);
    }
}
