//! The parallel checkerboard model: exact round trips on random integer models, the
//! rate estimate, previews from missing groups, and serialisation.

use cvq_entropy::{
    EntropyError, EntropyModel, GroupModel, IntConv2d, IntParallelGroupModel, ParallelLayers,
};

/// SplitMix64.
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

fn conv(rng: &mut Rng, c_in: usize, c_out: usize, k: usize) -> IntConv2d {
    let weights = (0..c_out * k * k * c_in)
        .map(|_| rng.range(3000) as i16)
        .collect();
    let shifts = (0..c_out).map(|_| 12 + rng.below(3) as u8).collect();
    let bias = (0..c_out).map(|_| rng.range(1 << 22)).collect();
    IntConv2d::new(c_in, c_out, k, weights, shifts, bias).unwrap()
}

/// A random parallel model with groups `(channels, levels)` in model order.
fn random_model(seed: u64, groups: &[(usize, usize)], f: usize) -> EntropyModel {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for (g, &(c, l)) in groups.iter().enumerate() {
        let prior: usize = groups[g + 1..].iter().map(|x| x.0).sum();
        let layers = ParallelLayers {
            prior: (prior > 0).then(|| conv(&mut rng, prior, f, 3)),
            context: conv(&mut rng, c, f, 3),
            hidden: conv(&mut rng, f, f, 1),
            out: conv(&mut rng, f, c * l, 1),
        };
        let values = (0..l).map(|k| (k as i32 - (l / 2) as i32) * 4096).collect();
        out.push(GroupModel::Parallel(
            IntParallelGroupModel::new(l, c, prior, layers, values).unwrap(),
        ));
    }
    EntropyModel::new(out).unwrap()
}

fn random_symbols(rng: &mut Rng, model: &EntropyModel, h: usize, w: usize) -> Vec<Vec<usize>> {
    model
        .shapes()
        .iter()
        .map(|s| {
            let mut v: Vec<usize> = Vec::with_capacity(s.channels * h * w);
            for _ in 0..s.channels * h * w {
                let prev = v.last().copied().unwrap_or(s.levels / 2);
                v.push(if rng.below(4) == 0 {
                    rng.below(s.levels)
                } else {
                    prev
                });
            }
            v
        })
        .collect()
}

#[test]
fn round_trip_is_exact_on_random_models_and_sizes() {
    let mut rng = Rng(1);
    for (seed, groups) in [
        (1u64, vec![(2usize, 3usize), (4, 5), (2, 7)]),
        (2, vec![(3, 2)]),
        (3, vec![(1, 256), (2, 4)]),
    ] {
        let model = random_model(seed, &groups, 6);
        for (h, w) in [(1, 1), (1, 7), (5, 3), (8, 8), (6, 11)] {
            let symbols = random_symbols(&mut rng, &model, h, w);
            let payloads = model.encode(&symbols, h, w).unwrap();
            let present: Vec<Option<&[u8]>> = payloads.iter().map(|p| Some(p.as_slice())).collect();
            assert_eq!(model.decode(&present, h, w).unwrap(), symbols);
            let bits: f64 = model.estimate_bits(&symbols, h, w).unwrap().iter().sum();
            let real: usize = payloads.iter().map(Vec::len).sum();
            assert!(
                (real * 8) as f64 + 1.0 >= bits,
                "{real} bytes < {bits} bits"
            );
            assert!(((real * 8) as f64) < bits + 64.0 * payloads.len() as f64);
        }
    }
}

/// Distributions computed on several threads, band by band (bands of 16 rows, so the
/// sizes cross band edges), give the one-thread bytes and symbols.
#[test]
fn threads_change_neither_the_bytes_nor_the_symbols() {
    let mut rng = Rng(5);
    let one = random_model(7, &[(2, 3), (4, 5), (2, 7)], 6);
    for (h, w) in [(1, 1), (17, 9), (40, 70), (33, 1)] {
        let symbols = random_symbols(&mut rng, &one, h, w);
        let payloads = one.encode(&symbols, h, w).unwrap();
        let present: Vec<Option<&[u8]>> = payloads.iter().map(|p| Some(p.as_slice())).collect();
        for threads in [2, 3] {
            let many = one.clone().with_threads(threads);
            assert!(many == one, "threads are not part of the model");
            assert_eq!(many.encode(&symbols, h, w).unwrap(), payloads, "{h}×{w}");
            assert_eq!(many.decode(&present, h, w).unwrap(), symbols, "{h}×{w}");
        }
    }
}

#[test]
fn missing_less_important_groups_leave_the_received_ones_exact() {
    let model = random_model(4, &[(2, 3), (4, 5), (2, 7)], 8);
    let mut rng = Rng(9);
    let (h, w) = (6, 9);
    let symbols = random_symbols(&mut rng, &model, h, w);
    let payloads = model.encode(&symbols, h, w).unwrap();
    // Only the most important group (model index 2) received.
    let partial = [None, None, Some(payloads[2].as_slice())];
    let preview = model.decode(&partial, h, w).unwrap();
    assert_eq!(preview[2], symbols[2]);
    for (g, s) in preview.iter().enumerate() {
        let shape = model.shapes()[g];
        assert_eq!(s.len(), shape.channels * h * w);
        assert!(s.iter().all(|&x| x < shape.levels));
    }
    // Nothing received at all still gives a (deterministic) guess.
    let none = model.decode(&[None, None, None], h, w).unwrap();
    assert_eq!(none, model.decode(&[None, None, None], h, w).unwrap());
}

#[test]
fn serialisation_round_trips_and_rejects_damage() {
    let model = random_model(5, &[(2, 3), (4, 5), (2, 7)], 5);
    let bytes = model.to_bytes();
    assert_eq!(EntropyModel::from_bytes(&bytes).unwrap(), model);
    for cut in [0, 4, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(EntropyModel::from_bytes(&bytes[..cut]).is_err());
    }
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(EntropyModel::from_bytes(&extra).is_err());
    // Flipping any byte never panics.
    for i in 0..bytes.len().min(4000) {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        let _ = EntropyModel::from_bytes(&b);
    }
}

#[test]
fn inconsistent_models_and_inputs_are_rejected() {
    let mut rng = Rng(6);
    // Prior width must equal the channels of the later groups.
    let bad = IntParallelGroupModel::new(
        3,
        2,
        3,
        ParallelLayers {
            prior: Some(conv(&mut rng, 3, 4, 3)),
            context: conv(&mut rng, 2, 4, 3),
            hidden: conv(&mut rng, 4, 4, 1),
            out: conv(&mut rng, 4, 6, 1),
        },
        vec![-4096, 0, 4096],
    )
    .unwrap();
    assert!(matches!(
        EntropyModel::new(vec![GroupModel::Parallel(bad)]),
        Err(EntropyError::InvalidModel(_))
    ));
    let model = random_model(7, &[(2, 3), (2, 5)], 4);
    assert!(matches!(
        model.encode(&[vec![0; 3], vec![0; 8]], 2, 2),
        Err(EntropyError::LengthMismatch { .. })
    ));
    assert!(matches!(
        model.encode(&[vec![3; 8], vec![0; 8]], 2, 2),
        Err(EntropyError::SymbolOutOfRange { .. })
    ));
    assert!(matches!(
        model.decode(&[None], 2, 2),
        Err(EntropyError::LengthMismatch { .. })
    ));
    assert!(matches!(
        model.decode(&[None, None], 1 << 20, 1 << 20),
        Err(EntropyError::TooLarge { .. })
    ));
}

/// A variable-rate model: every group gets `k` random rate-bias vectors.
fn random_variable_rate_model(
    seed: u64,
    groups: &[(usize, usize)],
    f: usize,
    k: usize,
) -> EntropyModel {
    let mut rng = Rng(seed ^ 0xA5A5);
    let base = random_model(seed, groups, f);
    let groups = base
        .groups()
        .iter()
        .map(|g| match g {
            GroupModel::Parallel(m) => GroupModel::Parallel(
                m.clone()
                    .with_rate_biases((0..k * f).map(|_| rng.range(1 << 14) as i32).collect())
                    .unwrap(),
            ),
            GroupModel::Context3d { .. } => unreachable!("random_model is parallel"),
        })
        .collect();
    EntropyModel::new(groups).unwrap()
}

#[test]
fn variable_rate_models_code_at_a_selected_rate_point() {
    let groups = [(2usize, 3usize), (3, 5), (2, 7)];
    let model = random_variable_rate_model(41, &groups, 6, 3);
    assert_eq!(model.rate_points(), 3);
    let mut rng = Rng(5);
    let (h, w) = (5, 6);
    let symbols = random_symbols(&mut rng, &model, h, w);
    // Without a selected rate point the model refuses to code.
    assert!(matches!(
        model.encode(&symbols, h, w),
        Err(EntropyError::InvalidModel(_))
    ));
    let mut estimates = Vec::new();
    for k in 0..3 {
        let at = model.at_rate(k).unwrap();
        let (payloads, bits) = at.encode_with_estimate(&symbols, h, w).unwrap();
        let refs: Vec<Option<&[u8]>> = payloads.iter().map(|p| Some(p.as_slice())).collect();
        assert_eq!(at.decode(&refs, h, w).unwrap(), symbols, "rate point {k}");
        estimates.push(bits.iter().sum::<f64>());
    }
    // Different biases give different distributions.
    assert!(estimates[0] != estimates[1] || estimates[1] != estimates[2]);
    assert!(model.at_rate(3).is_err());
    // A fixed-rate model has no rate points.
    assert!(random_model(41, &groups, 6).at_rate(0).is_err());
    // Serialisation keeps the biases (version 2) and round-trips.
    let bytes = model.to_bytes();
    assert_eq!(EntropyModel::from_bytes(&bytes).unwrap(), model);
    // Mixed rate-point counts are refused.
    let fixed = random_model(42, &groups, 6);
    let mut mixed: Vec<GroupModel> = model.groups().to_vec();
    mixed[0] = fixed.groups()[0].clone();
    assert!(EntropyModel::new(mixed).is_err());
}

#[test]
fn rate_biases_are_validated() {
    let model = random_model(43, &[(2, 3)], 4);
    let GroupModel::Parallel(m) = &model.groups()[0] else {
        unreachable!()
    };
    assert!(m.clone().with_rate_biases(vec![]).is_err());
    assert!(
        m.clone().with_rate_biases(vec![0; 5]).is_err(),
        "not a multiple of F"
    );
    assert!(
        m.clone().with_rate_biases(vec![1 << 27; 4]).is_err(),
        "beyond ±2^26"
    );
    assert!(
        m.clone().with_rate_biases(vec![0; 4 * 65]).is_err(),
        "more than 64"
    );
    assert_eq!(
        m.clone()
            .with_rate_biases(vec![0; 8])
            .unwrap()
            .rate_points(),
        2
    );
}
