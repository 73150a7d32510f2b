//! Helpers shared by the integration tests.
#![allow(dead_code)]

use cvq_bitstream::coder::{IntCdf, SymbolEncoder};
use cvq_bitstream::format::{EntropyModelKind, FileHeader, GroupHeader, ModelId, Permutation};

/// The "typical file" of docs/FORMAT.md: a 768x512 image, model
/// "cvq-small", C = 32 channels in a non-identity order, 3 groups with
/// 3 / 5 / 7 levels and 8 / 10 / 14 channels.
pub fn typical_header() -> FileHeader {
    // A fixed non-identity order: i -> (i * 13 + 5) mod 32 (13 is odd, so
    // this is a bijection on 0..32).
    let order: Vec<u32> = (0..32u32).map(|i| (i * 13 + 5) % 32).collect();
    FileHeader {
        width: 768,
        height: 512,
        model: ModelId::new("cvq-small", *b"\x01\x23\x45\x67\x89\xab\xcd\xef").unwrap(),
        quality: 4,
        entropy_model: EntropyModelKind::Context3d,
        permutation: Permutation::new(order).unwrap(),
        groups: vec![
            GroupHeader {
                levels: 3,
                channels: 8,
            },
            GroupHeader {
                levels: 5,
                channels: 10,
            },
            GroupHeader {
                levels: 7,
                channels: 14,
            },
        ],
    }
}

/// Small deterministic xorshift generator (tests must not depend on `rand`).
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Entropy codes `count` symbols with `levels` levels drawn from a peaked
/// distribution, using the matching fixed CDF; returns the payload.
pub fn coded_payload(levels: u8, count: usize, seed: u64) -> (Vec<u8>, Vec<usize>) {
    let l = usize::from(levels);
    let weights: Vec<u32> = (0..l)
        .map(|s| {
            let d = s.abs_diff(l / 2) as u32;
            1000 >> (2 * d).min(31)
        })
        .collect();
    let cdf = IntCdf::from_weights(&weights).unwrap();
    let mut rng = XorShift(seed | 1);
    let symbols: Vec<usize> = (0..count)
        .map(|_| {
            let q = rng.below(u64::from(cvq_bitstream::coder::TOTAL)) as u32;
            cdf.cdf().iter().skip(1).take_while(|&&c| c <= q).count()
        })
        .collect();
    let mut enc = SymbolEncoder::new();
    enc.encode_all(&symbols, &cdf).unwrap();
    (enc.finish(), symbols)
}
