//! Integer 3D context model: exact coding round trips, causality, agreement with the
//! float model, robustness to corrupt payloads, and a golden payload.
//!
//! Bless the golden fixture with `CVQ_BLESS=1 cargo test -p cvq-core --test entropy_int` (written to
//! `entropy/tests/fixtures/`).

use burn::backend::Flex;
use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Tensor, TensorData, activation};
use cvq_bitstream::coder::IntCdf;
use cvq_core::entropy::{
    EntropyError, IntContextModel3d, IntMaskedConv3d, MaskKind, decode_group, encode_group,
    estimate_bits, export_context_model,
};
use cvq_core::model::context3d::ContextModel3d;

type B = Flex;

mod common;

/// Tiny deterministic PRNG (SplitMix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, amp: i64) -> i64 {
        (self.next() % (2 * amp as u64 + 1)) as i64 - amp
    }
}

fn means(levels: usize) -> Vec<f32> {
    let half = (levels / 2) as f32;
    (0..levels)
        .map(|i| -half + 2.0 * half * i as f32 / (levels - 1) as f32)
        .collect()
}

/// Multiplies the conv weights and biases (not the masks) by a factor, to get
/// sharper distributions than the random initialisation gives.
struct Scale(f32);
impl ModuleMapper<B> for Scale {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let dims = tensor.dims();
        let is_mask = D == 5 && dims[0] == 1 && dims[1] == 1;
        let tensor = if is_mask {
            tensor
        } else {
            tensor.mul_scalar(self.0)
        };
        Param::from_mapped_value(id, tensor, mapper)
    }
}

fn float_model(levels: usize, features: usize, seed: u64, scale: f32) -> ContextModel3d<B> {
    let _rng = common::seeded(seed);
    ContextModel3d::<B>::new(levels, features, &Default::default()).map(&mut Scale(scale))
}

fn random_symbols(rng: &mut Rng, n: usize, levels: usize) -> Vec<usize> {
    (0..n).map(|_| rng.below(levels)).collect()
}

/// A hand-constructed integer model (no floats anywhere).
fn hand_model(levels: usize, features: usize, seed: u64) -> IntContextModel3d {
    let mut rng = Rng(seed);
    let mut layer = |kind: MaskKind, c_in: usize, c_out: usize, amp: i64| {
        let n = c_out * kind.taps() * c_in;
        let weights = (0..n).map(|_| rng.range(amp) as i16).collect();
        let shifts = (0..c_out).map(|o| 11 + (o % 3) as u8).collect();
        let bias = (0..c_out).map(|_| rng.range(1 << 22)).collect();
        IntMaskedConv3d::new(kind, c_in, c_out, weights, shifts, bias).unwrap()
    };
    let layers = [
        layer(MaskKind::Hollow, 1, features, 3000),
        layer(MaskKind::Solid, features, features, 1200),
        layer(MaskKind::Solid, features, features, 1200),
        layer(MaskKind::Solid, features, levels, 4000),
    ];
    let values = (0..levels)
        .map(|i| (i as i32 - (levels / 2) as i32) * 4096)
        .collect();
    IntContextModel3d::new(levels, features, layers, values).unwrap()
}

#[test]
fn exported_model_round_trips_random_symbols() {
    let mut rng = Rng(7);
    for (i, levels) in [3usize, 5, 7].into_iter().enumerate() {
        let float = float_model(levels, 8, 1 + i as u64, 1.0);
        let model = export_context_model(&float, &means(levels)).unwrap();
        for _ in 0..6 {
            let (c, h, w) = (2 + rng.below(3), 1 + rng.below(6), 1 + rng.below(6));
            let symbols = random_symbols(&mut rng, c * h * w, levels);
            let payload = encode_group(&model, &symbols, c, h, w).unwrap();
            let back = decode_group(&model, &payload, c, h, w).unwrap();
            assert_eq!(back, symbols, "L={levels} {c}×{h}×{w}");
        }
    }
}

#[test]
fn hand_model_round_trips_and_serialises() {
    let mut rng = Rng(11);
    for levels in [2usize, 3, 5, 7, 16] {
        let model = hand_model(levels, 5, levels as u64);
        let copy = IntContextModel3d::from_bytes(&model.to_bytes()).unwrap();
        assert_eq!(copy, model);
        let (c, h, w) = (3, 5, 4);
        let symbols = random_symbols(&mut rng, c * h * w, levels);
        let payload = encode_group(&copy, &symbols, c, h, w).unwrap();
        assert_eq!(decode_group(&model, &payload, c, h, w).unwrap(), symbols);
        // Truncated serialisations are rejected.
        let bytes = model.to_bytes();
        for cut in [0, 3, 5, bytes.len() / 2, bytes.len() - 1] {
            assert!(IntContextModel3d::from_bytes(&bytes[..cut]).is_err());
        }
    }
}

#[test]
fn empty_and_invalid_inputs() {
    let model = hand_model(5, 4, 3);
    assert!(encode_group(&model, &[], 0, 3, 3).unwrap().is_empty());
    assert!(decode_group(&model, &[], 2, 0, 3).unwrap().is_empty());
    assert!(matches!(
        encode_group(&model, &[0; 5], 1, 2, 3),
        Err(EntropyError::LengthMismatch { .. })
    ));
    assert!(matches!(
        encode_group(&model, &[0, 5], 1, 1, 2),
        Err(EntropyError::SymbolOutOfRange { position: 1, .. })
    ));
    assert!(matches!(
        decode_group(&model, &[1, 2, 3], usize::MAX, 2, 2),
        Err(EntropyError::TooLarge { .. })
    ));
    assert!(matches!(
        decode_group(&model, &[1, 2, 3], 1, 1 << 20, 1 << 20),
        Err(EntropyError::TooLarge { .. })
    ));
}

#[test]
fn integer_model_is_causal() {
    let mut rng = Rng(5);
    let float = float_model(5, 6, 3, 3.0);
    let exported = export_context_model(&float, &means(5)).unwrap();
    for model in [exported, hand_model(5, 6, 9)] {
        let (c, h, w) = (3, 4, 5);
        let n = c * h * w;
        let symbols = random_symbols(&mut rng, n, 5);
        let base = model.frequencies(&symbols, c, h, w).unwrap();
        let mut changed_later = 0;
        for q in 0..n {
            let mut other = symbols.clone();
            other[q] = (other[q] + 1 + rng.below(4)) % 5;
            let freqs = model.frequencies(&other, c, h, w).unwrap();
            assert_eq!(freqs[..(q + 1) * 5], base[..(q + 1) * 5], "changed {q}");
            if freqs[(q + 1) * 5..] != base[(q + 1) * 5..] {
                changed_later += 1;
            }
        }
        assert!(changed_later > n / 2, "the model should use its context");
    }
}

/// Float logits `[L, n]` (flattened raster positions) for one group.
fn float_logits(
    model: &ContextModel3d<B>,
    values: Vec<f32>,
    c: usize,
    h: usize,
    w: usize,
) -> Vec<f32> {
    let x = Tensor::<B, 4>::from_data(TensorData::new(values, [1, c, h, w]), &Default::default());
    let logits = model.forward(x);
    let levels = logits.dims()[1];
    activation::log_softmax(logits, 1)
        .reshape([levels, c * h * w])
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .unwrap()
}

#[test]
fn integer_model_agrees_with_float_model() {
    let mut rng = Rng(21);
    for (levels, features, scale) in [(3usize, 8usize, 1.0f32), (5, 16, 3.0), (7, 8, 4.0)] {
        let float = float_model(levels, features, 40 + levels as u64, scale);
        let mu = means(levels);
        let model = export_context_model(&float, &mu).unwrap();
        let (c, h, w) = (4, 6, 6);
        let n = c * h * w;
        let symbols = random_symbols(&mut rng, n, levels);
        let values = symbols.iter().map(|&s| mu[s]).collect();
        let log_p = float_logits(&float, values, c, h, w);
        let freqs = model.frequencies(&symbols, c, h, w).unwrap();
        // Float cross-entropy, raw and after the same 16-bit `IntCdf` quantization the
        // coder applies (which gives every symbol ≥ 2^-16: a random-symbol test hits
        // very unlikely symbols of a sharp random model, whose raw cost no 16-bit coder
        // reaches). The second isolates the fixed-point error of the integer model.
        let mut raw_bits = 0.0f64;
        let mut float_bits = 0.0f64;
        let mut max_diff = 0.0f64;
        for (p, &s) in symbols.iter().enumerate() {
            raw_bits -= f64::from(log_p[s * n + p]) / std::f64::consts::LN_2;
            let weights: Vec<u32> = (0..levels)
                .map(|k| (f64::from(log_p[k * n + p]).exp() * 16_777_216.0).round() as u32)
                .collect();
            let cdf = IntCdf::from_weights(&weights).unwrap();
            float_bits += 16.0 - f64::from(cdf.frequency(s).unwrap()).log2();
            for k in 0..levels {
                let pf = f64::from(log_p[k * n + p]).exp();
                let pi = f64::from(freqs[p * levels + k]) / 65536.0;
                max_diff = max_diff.max((pf - pi).abs());
            }
        }
        let int_bits = estimate_bits(&model, &symbols, c, h, w).unwrap();
        let payload_bits = 8.0 * encode_group(&model, &symbols, c, h, w).unwrap().len() as f64;
        let rel = (int_bits - float_bits) / float_bits;
        println!(
            "L={levels} F={features} scale={scale}: float {float_bits:.2} bits (raw {raw_bits:.2}), int {int_bits:.2} bits ({:+.4}%), payload {payload_bits} bits, max |Δp| {max_diff:.2e}",
            100.0 * rel
        );
        assert!(rel.abs() < 0.005, "rate differs by {rel}");
        assert!(max_diff < 2e-3, "probabilities differ by {max_diff}");
        assert!(payload_bits <= int_bits + 64.0);
    }
}

#[test]
fn corrupt_payloads_never_panic() {
    let mut rng = Rng(99);
    let model = hand_model(5, 4, 17);
    let (c, h, w) = (3, 4, 4);
    let symbols = random_symbols(&mut rng, c * h * w, 5);
    let payload = encode_group(&model, &symbols, c, h, w).unwrap();
    for cut in 0..payload.len() {
        if let Ok(s) = decode_group(&model, &payload[..cut], c, h, w) {
            assert_eq!(s.len(), c * h * w);
        }
    }
    let mut extra = payload.clone();
    extra.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(decode_group(&model, &extra, c, h, w).is_err());
    for len in [1usize, 3, 8, 40, 200] {
        for _ in 0..20 {
            let garbage: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if let Ok(s) = decode_group(&model, &garbage, c, h, w) {
                assert!(s.len() == c * h * w && s.iter().all(|&x| x < 5));
            }
        }
    }
}

/// Byte-exact payload of a fixed hand-constructed model on fixed symbols: catches any
/// platform dependence of the integer arithmetic, the exp table or the range coder.
#[test]
fn golden_payload() {
    let model = hand_model(5, 6, 2024);
    let (c, h, w) = (3, 5, 6);
    let mut rng = Rng(42);
    // Correlated symbols so the context model matters.
    let mut symbols = Vec::with_capacity(c * h * w);
    for _ in 0..c * h * w {
        let prev = symbols.last().copied().unwrap_or(2);
        let s = if rng.below(3) == 0 {
            rng.below(5)
        } else {
            prev
        };
        symbols.push(s);
    }
    let payload = encode_group(&model, &symbols, c, h, w).unwrap();
    let mut golden = model.to_bytes();
    golden.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    golden.extend_from_slice(&payload);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../entropy/tests/fixtures/entropy_int3d_golden.bin");
    if std::env::var_os("CVQ_BLESS").is_some() {
        std::fs::write(&path, &golden).unwrap();
    }
    let expected = std::fs::read(&path).expect("golden fixture (bless with CVQ_BLESS=1)");
    assert_eq!(golden, expected, "golden payload changed");
    assert_eq!(decode_group(&model, &payload, c, h, w).unwrap(), symbols);
}

/// The float masks keep exactly the kernel taps the integer layers evaluate.
#[test]
fn float_masks_match_integer_tap_counts() {
    use cvq_core::model::context3d::{MaskType, mask_values};
    for (kind, float_kind) in [
        (MaskKind::Hollow, MaskType::Hollow),
        (MaskKind::Solid, MaskType::Solid),
    ] {
        let mask = mask_values(float_kind);
        for (k, &m) in mask.iter().enumerate() {
            assert_eq!(m == 1.0, k < kind.taps(), "kernel index {k}");
        }
    }
}
