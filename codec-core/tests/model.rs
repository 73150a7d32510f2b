//! Model-level tests on the CPU (Flex) backend: shapes for every preset, parameter
//! formulas, quantizer behaviour, context-model causality, importance, and a small
//! overfitting run.

use burn::backend::{Autodiff, Flex};
use burn::grad_clipping::GradientClippingConfig;
use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use cvq_core::complexity::complexity;
use cvq_core::config::{CvqnConfig, ImportanceKind, Preset};
use cvq_core::loss::{Distortion, RateDistortionLoss};
use cvq_core::model::Cvqn;
use cvq_core::model::context3d::{ContextModel3d, symbol_rates, with_soft_gradient};
use cvq_core::model::importance::re_importance;
use cvq_core::model::quantizer::GmmQuantizer;
use cvq_core::model::split_merge::order_from_importance;
use proptest::prelude::*;

type B = Flex;
type AB = Autodiff<Flex>;

mod common;
use common::seeded;

/// Encoder → quantizer → decoder shapes and parameter counts, for every preset.
#[test]
fn every_preset_has_consistent_shapes_and_parameter_counts() {
    let _rng = seeded(0);
    let device = Default::default();
    for preset in Preset::ALL {
        let cfg = CvqnConfig::preset(preset);
        let model = Cvqn::<B>::new(&cfg, &device).unwrap();
        let cost = complexity(&cfg);
        assert_eq!(
            model.encoder.num_params(),
            cost.encoder.params,
            "{preset:?} encoder"
        );
        assert_eq!(
            model.decoder.num_params(),
            cost.decoder.params,
            "{preset:?} decoder"
        );
        let entropy: usize = model.entropy.iter().map(|m| m.num_params()).sum::<usize>()
            + model.parallel.iter().map(|m| m.num_params()).sum::<usize>();
        assert_eq!(entropy, cost.entropy.params, "{preset:?} entropy");
        let quant: usize = model.quantizers.iter().map(|m| m.num_params()).sum();
        assert_eq!(quant, cost.quantizers.params, "{preset:?} quantizers");

        let x = Tensor::<B, 4>::random([1, 3, 32, 48], Distribution::Default, &device);
        let out = model.forward(x);
        assert_eq!(out.latent.dims(), [1, cfg.code_channels, 2, 3]);
        assert_eq!(out.reconstruction.dims(), [1, 3, 32, 48]);
        for ((g, &c), &l) in out
            .groups
            .iter()
            .zip(&cfg.group_channels())
            .zip(&cfg.levels)
        {
            assert_eq!(g.symbols.dims(), [1, c, 2, 3]);
            assert_eq!(g.nll.dims(), [1, c, 2, 3]);
            let max = g.symbols.clone().max().into_scalar() as i64;
            assert!((0..l as i64).contains(&max), "{preset:?}");
        }
        let bpp = out.bpp().into_scalar();
        assert!(bpp.is_finite() && bpp > 0.0, "{preset:?} bpp {bpp}");
    }
}

#[test]
fn decoding_symbols_reproduces_the_forward_reconstruction() {
    let _rng = seeded(3);
    let device = Default::default();
    let cfg = CvqnConfig::preset(Preset::Small);
    let model = Cvqn::<B>::new(&cfg, &device).unwrap();
    let x = Tensor::<B, 4>::random([2, 3, 32, 32], Distribution::Default, &device);
    let out = model.forward(x);
    let symbols = out.groups.iter().map(|g| g.symbols.clone()).collect();
    let decoded = model.decode_symbols(symbols, out.order.clone(), 0);
    decoded
        .into_data()
        .assert_approx_eq::<f32>(&out.reconstruction.into_data(), Default::default());
}

#[test]
fn quantizer_symbols_in_range_and_straight_through_gradient() {
    let _rng = seeded(2);
    let device = Default::default();
    for levels in [2usize, 3, 5, 7] {
        let q = GmmQuantizer::<AB>::new(levels, 0.7072, &device);
        let z = Tensor::<AB, 4>::random([2, 4, 3, 3], Distribution::Normal(0.0, 3.0), &device)
            .require_grad();
        let out = q.forward(z.clone());
        let s = out
            .symbols
            .clone()
            .into_data()
            .convert::<i64>()
            .into_vec::<i64>()
            .unwrap();
        assert!(s.iter().all(|&k| (0..levels as i64).contains(&k)));
        // forward value is exactly the mean of the chosen level
        out.values
            .clone()
            .into_data()
            .assert_approx_eq::<f32>(&q.dequantize(out.symbols).into_data(), Default::default());
        let grads = out.values.sum().backward();
        let gz = z.grad(&grads).expect("gradient reaches the input");
        let gz: Vec<f32> = gz.into_data().convert::<f32>().into_vec().unwrap();
        assert!(gz.iter().all(|g| g.is_finite()));
        assert!(
            gz.iter().any(|g| *g != 0.0),
            "soft path gives a non-zero gradient"
        );
        let gm = q.mean.grad(&grads).expect("means are trained");
        assert!(
            gm.into_data()
                .convert::<f32>()
                .iter::<f32>()
                .any(|g| g != 0.0)
        );
    }
}

/// The rate of a hard symbol gives the latent no gradient; the soft rate gradient
/// (`with_soft_gradient`: `nll + soft_nll − stop_gradient(soft_nll)`) keeps the value and pulls the latent
/// towards the cheaper level.
#[test]
fn soft_rate_gradient_pulls_the_latent_towards_cheaper_symbols() {
    let device = Default::default();
    let q = GmmQuantizer::<AB>::new(3, 0.7072, &device);
    // Means −1, 0, 1; every latent 0.2 picks level 1.
    let z = Tensor::<AB, 4>::full([1, 2, 2, 2], 0.2, &device).require_grad();
    let out = q.forward(z.clone());
    assert!(
        out.symbols
            .clone()
            .into_data()
            .convert::<i64>()
            .iter::<i64>()
            .all(|k| k == 1)
    );
    // The context model finds level 2 (value +1) cheapest: logits [1, L, C, h, w].
    let logits = Tensor::<AB, 1>::from_floats([0.0, 1.0, 3.0], &device)
        .reshape([1, 3, 1, 1, 1])
        .repeat_dim(2, 2)
        .repeat_dim(3, 2)
        .repeat_dim(4, 2);
    let (nll, soft_nll) = symbol_rates(logits, out.symbols, out.soft_weights);
    let hard_grads = nll.clone().sum().backward();
    let hard = z.grad(&hard_grads).map(|g| g.abs().sum().into_scalar());
    assert!(hard.is_none_or(|g| g == 0.0), "hard rate gradient {hard:?}");

    let soft_rate = with_soft_gradient(nll.clone(), soft_nll);
    soft_rate
        .clone()
        .into_data()
        .assert_approx_eq::<f32>(&nll.into_data(), Default::default());
    let grads = soft_rate.sum().backward();
    let gz: Vec<f32> = z
        .grad(&grads)
        .expect("the soft rate reaches the latent")
        .into_data()
        .convert::<f32>()
        .into_vec()
        .unwrap();
    // Gradient descent raises z towards level 2.
    assert!(gz.iter().all(|&g| g < 0.0), "{gz:?}");
}

#[test]
fn quantizer_picks_nearest_mean_with_equal_mixture() {
    let device = Default::default();
    let q = GmmQuantizer::<B>::new(5, 0.7072, &device); // means -2..2
    let z = Tensor::<B, 1>::from_floats([-3.0, -1.4, 0.2, 0.6, 2.7, 1.49], &device)
        .reshape([1, 1, 1, 6]);
    let s = q
        .forward(z)
        .symbols
        .into_data()
        .convert::<i64>()
        .into_vec::<i64>()
        .unwrap();
    assert_eq!(s, vec![0, 1, 2, 3, 4, 3]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Changing the symbol at raster position p never changes the logits at positions ≤ p.
    #[test]
    fn context_model_is_causal(
        c in 1usize..4, h in 1usize..5, w in 1usize..5,
        pos_frac in 0.0f64..1.0, seed in 0u64..1000, new_value in -3.0f32..3.0,
    ) {
        let _rng = seeded(seed);
        let device = Default::default();
        let model = ContextModel3d::<B>::new(5, 6, &device);
        let n = c * h * w;
        let values = Tensor::<B, 4>::random([1, c, h, w], Distribution::Uniform(-2.0, 2.0), &device);
        let p = ((pos_frac * n as f64) as usize).min(n - 1);
        let mut flat: Vec<f32> = values.clone().into_data().convert::<f32>().into_vec().unwrap();
        prop_assume!(flat[p] != new_value);
        flat[p] = new_value;
        let changed = Tensor::<B, 4>::from_data(TensorData::new(flat, [1, c, h, w]), &device);
        let a: Vec<f32> = model.forward(values).into_data().convert::<f32>().into_vec().unwrap();
        let b: Vec<f32> = model.forward(changed).into_data().convert::<f32>().into_vec().unwrap();
        // logits [1, L, c, h, w]: position q of level l at l*n + q
        for l in 0..5 {
            for q in 0..=p {
                prop_assert_eq!(a[l * n + q], b[l * n + q], "level {} position {} (changed {})", l, q, p);
            }
        }
    }
}

#[test]
fn context_model_depends_on_the_past() {
    // Sanity check against a trivially causal (constant) model: later positions do react.
    let _rng = seeded(7);
    let device = Default::default();
    let model = ContextModel3d::<B>::new(3, 8, &device);
    let values = Tensor::<B, 4>::zeros([1, 1, 3, 3], &device);
    let changed = values.clone().slice_assign(
        [0..1, 0..1, 0..1, 0..1],
        Tensor::ones([1, 1, 1, 1], &device),
    );
    let a = model
        .forward(values)
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .unwrap();
    let b = model
        .forward(changed)
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .unwrap();
    // position 1 (right neighbour) must see position 0
    assert!((0..3).any(|l| a[l * 9 + 1] != b[l * 9 + 1]));
}

#[test]
fn se_importance_orders_each_batch() {
    let _rng = seeded(11);
    let device = Default::default();
    let cfg = CvqnConfig::preset(Preset::Small).with_importance(ImportanceKind::Se);
    let model = Cvqn::<B>::new(&cfg, &device).unwrap();
    let x = Tensor::<B, 4>::random([1, 3, 32, 32], Distribution::Default, &device);
    let out = model.forward(x.clone());
    let mut order: Vec<i64> = out
        .order
        .clone()
        .into_data()
        .convert::<i64>()
        .into_vec()
        .unwrap();
    order.sort();
    assert_eq!(order, (0..32).collect::<Vec<i64>>());
    // the SE scores decide the order
    let latent = model.encoder.forward(x);
    let scores: Vec<f32> = model
        .se
        .as_ref()
        .unwrap()
        .scores(latent)
        .into_data()
        .convert::<f32>()
        .into_vec()
        .unwrap();
    let expected: Vec<i64> = order_from_importance(&scores)
        .into_iter()
        .map(|i| i as i64)
        .collect();
    let got: Vec<i64> = out.order.into_data().convert::<i64>().into_vec().unwrap();
    assert_eq!(got, expected);
}

#[test]
fn re_importance_scores_every_channel() {
    let _rng = seeded(5);
    let device = Default::default();
    let mut cfg = CvqnConfig::preset(Preset::Small).with_importance(ImportanceKind::Re);
    cfg.code_channels = 8;
    let mut model = Cvqn::<B>::new(&cfg, &device).unwrap();
    // A freshly initialised encoder gives latents near 0, which all quantize to the 0.0
    // level; shift the levels so that every channel carries a non-zero code.
    for q in &mut model.quantizers {
        q.mean = Param::from_tensor(q.mean.val().add_scalar(0.5));
    }
    let x = Tensor::<B, 4>::random([1, 3, 176, 176], Distribution::Default, &device);
    let scores = re_importance(&model, std::slice::from_ref(&x)).unwrap();
    assert_eq!(scores.len(), 8);
    assert!(
        scores.iter().all(|s| s.is_finite() && *s >= -1e-3),
        "{scores:?}"
    );
    assert!(
        scores.iter().any(|s| *s > 0.0),
        "zeroing a channel changes the output"
    );
    let order = order_from_importance(&scores);
    model.set_order(&order);
    let out = model.forward(x);
    let got: Vec<i64> = out.order.into_data().convert::<i64>().into_vec().unwrap();
    assert_eq!(got, order.iter().map(|&i| i as i64).collect::<Vec<_>>());
    // too small for MS-SSIM: typed error, no panic
    let small = Tensor::<B, 4>::random([1, 3, 32, 32], Distribution::Default, &device);
    assert!(re_importance(&model, &[small]).is_err());
}

/// Loads a 64×64 crop of a Kodak image as `[1, 3, 64, 64]` in 0..1.
fn kodak_crop(device: &burn::tensor::Device<AB>) -> Tensor<AB, 4> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/kodak/kodim23.png"
    );
    let img = image::open(path).expect("Kodak image").to_rgb8();
    let mut data = vec![0f32; 3 * 64 * 64];
    for y in 0..64 {
        for x in 0..64 {
            let p = img.get_pixel(300 + x as u32, 200 + y as u32);
            for c in 0..3 {
                data[c * 4096 + y * 64 + x] = p[c] as f32 / 255.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(data, [1, 3, 64, 64]), device)
}

#[test]
fn small_preset_overfits_one_crop() {
    let _rng = seeded(1);
    let device = Default::default();
    let cfg = CvqnConfig::preset(Preset::Small);
    let mut model = Cvqn::<AB>::new(&cfg, &device).unwrap();
    let x = kodak_crop(&device);
    let loss_fn = RateDistortionLoss {
        rate: Default::default(),
        rate_gradient: Default::default(),
        distortion: Distortion::Mse { lambda: 0.01 },
        gmm_beta: 0.0,
    };
    let mut optim = AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let mut losses = Vec::new();
    for _ in 0..40 {
        let out = model.forward(x.clone());
        let terms = loss_fn.evaluate(&model, x.clone(), &out).unwrap();
        losses.push(terms.total.clone().into_scalar());
        let grads = GradientsParams::from_grads(terms.total.backward(), &model);
        model = optim.step(5e-4, model, grads);
    }
    // Single steps spike when quantizer symbols flip, so compare robust statistics: the
    // median of the last 10 steps against the mean of the first 5.
    let first = losses[..5].iter().sum::<f32>() / 5.0;
    let mut tail = losses[losses.len() - 10..].to_vec();
    tail.sort_by(f32::total_cmp);
    let last = (tail[4] + tail[5]) / 2.0;
    eprintln!("overfit: mean loss of first 5 steps {first:.4}, median of last 10 steps {last:.4}");
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(last < 0.5 * first, "loss should fall by half: {losses:?}");
}

#[test]
fn int_symbols_decode_for_se_order() {
    // dequantize handles arbitrary symbol tensors of the right range
    let device = Default::default();
    let q = GmmQuantizer::<B>::new(3, 0.7072, &device);
    let s = Tensor::<B, 1, Int>::from_ints([0, 1, 2, 1], &device).reshape([1, 1, 2, 2]);
    let v: Vec<f32> = q
        .dequantize(s)
        .into_data()
        .convert::<f32>()
        .into_vec()
        .unwrap();
    assert_eq!(v, vec![-1.0, 0.0, 1.0, 0.0]);
}

/// A variable-rate model: the complexity count includes the gains and rate biases, and
/// the rate points scale the latent differently.
#[test]
fn variable_rate_parameters_and_gains() {
    let _rng = seeded(3);
    let device = Default::default();
    let mut cfg = CvqnConfig::preset(Preset::Tiny);
    cfg.rate_points = Some(4);
    let model = Cvqn::<B>::new(&cfg, &device).unwrap();
    assert_eq!(model.rate_points(), 4);
    assert_eq!(model.num_params(), complexity(&cfg).total().params);
    let x = Tensor::<B, 4>::random([1, 3, 32, 32], Distribution::Default, &device);
    let spread = |rate: usize| -> f32 {
        let q = model.quantize_at(x.clone(), rate);
        q.latent.powi_scalar(2).mean().sqrt().into_scalar()
    };
    // Gains start at 0.5 … 2 (a factor 4 between the outer rate points).
    let ratio = spread(3) / spread(0);
    assert!((ratio - 4.0).abs() < 1e-3, "gain ratio {ratio}");
    let mut bad = cfg.clone();
    bad.rate_points = Some(0);
    assert!(bad.validate().is_err());
    let mut bad = cfg.clone();
    bad.entropy = cvq_core::config::EntropyKind::Context3d;
    assert!(
        bad.validate().is_err(),
        "variable rate needs the parallel model"
    );
}

/// Without channel attention every output depends on a bounded neighbourhood only: a
/// change in one corner of the input leaves the far side of the output bit-identical
/// (what tiled analysis and synthesis rely on), for the encoder and the decoder. With
/// the seed's attention (global pooling) the same change reaches every pixel.
#[test]
fn transforms_without_attention_are_local() {
    use cvq_core::config::AttentionKind;
    let _rng = seeded(5);
    let device = Default::default();
    for (kind, local) in [(AttentionKind::None, true), (AttentionKind::Sigmoid, false)] {
        let mut cfg = CvqnConfig::preset(Preset::Tiny);
        cfg.encoder.attention = kind;
        cfg.decoder.attention = kind;
        cfg.encoder.blocks = [1; 4];
        cfg.decoder.blocks = [1; 4];
        let model = Cvqn::<B>::new(&cfg, &device).unwrap();
        assert_eq!(model.num_params(), complexity(&cfg).total().params);
        // Decoder: code [1, C, 16, 16] → image [1, 3, 256, 256]; change the code at (0, 0).
        let code = Tensor::<B, 4>::random(
            [1, cfg.code_channels, 16, 16],
            Distribution::Default,
            &device,
        );
        let bumped = code.clone().slice_assign(
            [0..1, 0..cfg.code_channels, 0..1, 0..1],
            Tensor::ones([1, cfg.code_channels, 1, 1], &device),
        );
        let far = |t: Tensor<B, 4>| t.slice([0..1, 0..3, 224..256, 224..256]).into_data();
        let same = far(model.decoder.forward(code)) == far(model.decoder.forward(bumped));
        assert_eq!(same, local, "decoder, {kind:?}");
        // Encoder: image [1, 3, 256, 256] → latent [1, C, 16, 16]; change pixel (0, 0).
        let x = Tensor::<B, 4>::random([1, 3, 256, 256], Distribution::Default, &device);
        let bumped = x.clone().slice_assign(
            [0..1, 0..3, 0..1, 0..1],
            Tensor::ones([1, 3, 1, 1], &device),
        );
        let far = |t: Tensor<B, 4>| {
            t.slice([0..1, 0..cfg.code_channels, 14..16, 14..16])
                .into_data()
        };
        let same = far(model.encoder.forward(x)) == far(model.encoder.forward(bumped));
        assert_eq!(same, local, "encoder, {kind:?}");
    }
}
