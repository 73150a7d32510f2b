//! Property tests of the integer entropy coder.

use cvq_bitstream::coder::{CoderError, IntCdf, MAX_SYMBOLS, SymbolDecoder, SymbolEncoder, TOTAL};
use proptest::prelude::*;

/// Weights that are often zero, often tiny, sometimes huge (very skewed).
fn weight() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => Just(0u32),
        3 => 0u32..4,
        3 => 0u32..1000,
        2 => any::<u32>(),
        1 => Just(u32::MAX),
    ]
}

fn weights(max_len: usize) -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(weight(), 1..=max_len)
}

/// A sequence of (weights, symbol) pairs: each symbol has its own model.
fn coded_sequence() -> impl Strategy<Value = Vec<(Vec<u32>, usize)>> {
    prop::collection::vec(
        weights(12).prop_flat_map(|w| {
            let n = w.len();
            (Just(w), 0..n)
        }),
        0..400,
    )
}

/// Straightforward reference implementation of the documented
/// `from_weights` algorithm (u128 arithmetic, full sort).
fn reference_frequencies(weights: &[u32]) -> Vec<u32> {
    let n = weights.len() as u128;
    let r = u128::from(TOTAL) - n;
    let mut w: Vec<u128> = weights.iter().map(|&x| u128::from(x)).collect();
    if w.iter().all(|&x| x == 0) {
        w = vec![1; weights.len()];
    }
    let total: u128 = w.iter().sum();
    let mut f: Vec<u128> = w.iter().map(|&x| 1 + x * r / total).collect();
    let left = u128::from(TOTAL) - f.iter().sum::<u128>();
    let mut order: Vec<usize> = (0..w.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(w[i] * r % total), i));
    for &i in order.iter().take(left as usize) {
        f[i] += 1;
    }
    f.into_iter().map(|x| x as u32).collect()
}

/// Weights whose sum is a power of two (exercises the shift fast path).
fn pow2_weights() -> impl Strategy<Value = Vec<u32>> {
    (prop::collection::vec(0u32..1000, 1..=40), 16u32..=32).prop_map(|(mut w, k)| {
        // Make the sum exactly 2^k by adjusting the last weight.
        let target = 1u64 << k;
        let head: u64 = w[..w.len() - 1].iter().map(|&x| u64::from(x)).sum();
        let last = target - head;
        if let Ok(last) = u32::try_from(last) {
            *w.last_mut().unwrap() = last;
        }
        w
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn from_weights_matches_reference(w in prop_oneof![weights(MAX_SYMBOLS), pow2_weights()]) {
        let cdf = IntCdf::from_weights(&w).unwrap();
        prop_assert_eq!(cdf.frequencies().collect::<Vec<_>>(), reference_frequencies(&w));
    }

    #[test]
    fn from_weights_is_valid(w in weights(MAX_SYMBOLS)) {
        let cdf = IntCdf::from_weights(&w).unwrap();
        let f: Vec<u32> = cdf.frequencies().collect();
        prop_assert_eq!(f.len(), w.len());
        prop_assert!(f.iter().all(|&x| x >= 1));
        prop_assert_eq!(f.iter().map(|&x| u64::from(x)).sum::<u64>(), u64::from(TOTAL));
        prop_assert_eq!(cdf.cdf().first().copied(), Some(0));
        prop_assert_eq!(cdf.cdf().last().copied(), Some(TOTAL));
        // Monotone in the weights: a larger weight never gets a smaller frequency.
        for i in 0..w.len() {
            for j in 0..w.len() {
                if w[i] > w[j] {
                    prop_assert!(f[i] >= f[j], "w={:?} f={:?}", w, f);
                }
            }
        }
        // Same as explicit frequencies; set_weights reuses the buffer.
        prop_assert_eq!(&IntCdf::from_frequencies(&f).unwrap(), &cdf);
        let mut reused = IntCdf::uniform(3).unwrap();
        reused.set_weights(&w).unwrap();
        prop_assert_eq!(reused, cdf);
    }

    #[test]
    fn from_weights_is_close_to_proportional(w in prop::collection::vec(0u32..1_000_000, 1..=16)) {
        let total: u64 = w.iter().map(|&x| u64::from(x)).sum();
        prop_assume!(total > 0);
        let cdf = IntCdf::from_weights(&w).unwrap();
        let n = w.len() as f64;
        for (s, f) in cdf.frequencies().enumerate() {
            // Test-only float check: |f - (1 + w*R/W)| <= 1.
            let ideal = 1.0 + w[s] as f64 * (f64::from(TOTAL) - n) / total as f64;
            prop_assert!((f64::from(f) - ideal).abs() <= 1.0, "s={} f={} ideal={}", s, f, ideal);
        }
    }

    #[test]
    fn encode_decode_identity(seq in coded_sequence()) {
        let models: Vec<IntCdf> = seq.iter().map(|(w, _)| IntCdf::from_weights(w).unwrap()).collect();
        let mut enc = SymbolEncoder::new();
        for ((_, s), m) in seq.iter().zip(&models) {
            enc.encode(*s, m).unwrap();
        }
        let bytes = enc.finish();
        prop_assert!(bytes.last() != Some(&0), "trailing zero bytes are trimmed");
        let mut dec = SymbolDecoder::new(&bytes);
        for ((_, s), m) in seq.iter().zip(&models) {
            prop_assert_eq!(dec.decode(m).unwrap(), *s);
        }
        prop_assert_eq!(dec.finish(), Ok(()));
    }

    #[test]
    fn iid_roundtrip_any_alphabet(w in weights(MAX_SYMBOLS), raw in prop::collection::vec(any::<usize>(), 0..2000)) {
        let cdf = IntCdf::from_weights(&w).unwrap();
        let symbols: Vec<usize> = raw.iter().map(|r| r % w.len()).collect();
        let mut enc = SymbolEncoder::new();
        enc.encode_all(&symbols, &cdf).unwrap();
        let bytes = enc.finish();
        let mut dec = SymbolDecoder::new(&bytes);
        prop_assert_eq!(dec.decode_all(symbols.len(), &cdf).unwrap(), symbols);
        prop_assert_eq!(dec.finish(), Ok(()));
    }

    #[test]
    fn out_of_range_symbols_are_rejected(w in weights(16), extra in 0usize..1000) {
        let cdf = IntCdf::from_weights(&w).unwrap();
        let mut enc = SymbolEncoder::new();
        let s = w.len() + extra;
        prop_assert_eq!(
            enc.encode(s, &cdf),
            Err(CoderError::SymbolOutOfRange { symbol: s, num_symbols: w.len() })
        );
    }

    #[test]
    fn garbage_decodes_without_panic(
        w in weights(40),
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        count in 0usize..300,
    ) {
        let cdf = IntCdf::from_weights(&w).unwrap();
        let mut dec = SymbolDecoder::new(&bytes);
        for _ in 0..count {
            match dec.decode(&cdf) {
                Ok(s) => prop_assert!(s < w.len()),
                Err(e) => { prop_assert_eq!(e, CoderError::InvalidData); break; }
            }
        }
    }
}

#[test]
fn compression_is_near_entropy() {
    // 100k symbols from a known 5-level distribution; the payload must be
    // within 1% (+ a few bytes) of the ideal code length.
    let freqs = [1000u32, 8000, 47536, 8000, 1000];
    let cdf = IntCdf::from_frequencies(&freqs).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut ideal_bits = 0.0f64;
    let mut enc = SymbolEncoder::new();
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let q = (x % u64::from(TOTAL)) as u32;
        let s = cdf.cdf().iter().skip(1).take_while(|&&c| c <= q).count();
        ideal_bits -= (f64::from(freqs[s]) / f64::from(TOTAL)).log2();
        enc.encode(s, &cdf).unwrap();
    }
    let bytes = enc.finish();
    let ideal_bytes = ideal_bits / 8.0;
    assert!(
        (bytes.len() as f64) < ideal_bytes * 1.01 + 8.0,
        "{} bytes vs ideal {ideal_bytes:.1}",
        bytes.len()
    );
}
