//! The recurrent progressive codec's networks on the CPU: shapes, ±1 codes, every cell and
//! reconstruction mode, parameter counts, configuration checks, and a tiny model that
//! learns a crop (the weighted-L1 loss falls).

use burn::backend::{Autodiff, Flex};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{Distribution, Tensor};
use cvq_core::recurrent::config::{
    CellKind, ReconstructionMode, RecurrentConfig, RecurrentConfigError, RecurrentPreset,
};
use cvq_core::recurrent::{
    IterationWeighting, RecurrentCodec, RecurrentOutput, iteration_cost, iteration_ms_ssim,
    residual_l1, residual_loss,
};

type B = Flex;
type AB = Autodiff<Flex>;

mod common;
use common::seeded;

#[test]
fn every_cell_and_mode_gives_pm1_codes_and_full_size_reconstructions() {
    let _rng = seeded(1);
    let device = Default::default();
    for cell in [CellKind::Lstm, CellKind::Gru] {
        for mode in [
            ReconstructionMode::OneShot,
            ReconstructionMode::Additive,
            ReconstructionMode::ResidualScaling,
        ] {
            let mut cfg = RecurrentConfig::preset(RecurrentPreset::Tiny);
            cfg.cell = cell;
            cfg.mode = mode;
            let model = RecurrentCodec::<B>::new(&cfg, &device).unwrap();
            let cost = iteration_cost(&cfg);
            assert_eq!(
                model.num_params(),
                cost.encoder_params + cost.decoder_params,
                "{cell:?} {mode:?}"
            );
            let x = Tensor::<B, 4>::random([2, 3, 64, 96], Distribution::Default, &device);
            for stochastic in [false, true] {
                let out = model.forward(x.clone(), 3, stochastic);
                assert_eq!(out.codes.len(), 3);
                for (codes, recon) in out.codes.iter().zip(&out.reconstructions) {
                    assert_eq!(codes.dims(), [2, cfg.bits, 4, 6]);
                    assert_eq!(recon.dims(), [2, 3, 64, 96]);
                    let v = codes.clone().into_data().into_vec::<f32>().unwrap();
                    assert!(
                        v.iter().all(|&b| b == 1.0 || b == -1.0),
                        "{cell:?} {mode:?}"
                    );
                }
                let loss: f32 = residual_l1(&out).into_scalar();
                assert!(loss.is_finite() && loss > 0.0);
            }
        }
    }
}

#[test]
fn deterministic_codes_repeat_and_the_first_iteration_does_not_see_later_ones() {
    let _rng = seeded(2);
    let device = Default::default();
    let cfg = RecurrentConfig::preset(RecurrentPreset::Tiny);
    let model = RecurrentCodec::<B>::new(&cfg, &device).unwrap();
    let x = Tensor::<B, 4>::random([1, 3, 32, 32], Distribution::Default, &device);
    let a = model.forward(x.clone(), 4, false);
    let b = model.forward(x, 2, false);
    for t in 0..2 {
        assert_eq!(
            a.codes[t].clone().into_data(),
            b.codes[t].clone().into_data()
        );
        assert_eq!(
            a.reconstructions[t].clone().into_data(),
            b.reconstructions[t].clone().into_data()
        );
    }
}

/// Both weightings have the value of the plain L1; `Relative` scales each iteration's
/// gradient by `L̄ / L_t`: residuals of 0.2 and 0.05 get weights 0.625 and 2.5.
#[test]
fn relative_weighting_keeps_the_value_and_lifts_the_small_residuals_gradient() {
    let device = Default::default();
    let grads_of = |weighting| {
        let r1 = Tensor::<AB, 4>::full([1, 3, 4, 4], 0.2, &device).require_grad();
        let r2 = Tensor::<AB, 4>::full([1, 3, 4, 4], -0.05, &device).require_grad();
        let out = RecurrentOutput {
            codes: Vec::new(),
            reconstructions: Vec::new(),
            residuals: vec![r1.clone(), r2.clone()],
        };
        let loss = residual_loss(&out, weighting);
        let value: f32 = loss.clone().into_scalar();
        let plain: f32 = residual_l1(&out).into_scalar();
        assert!(
            (value - plain).abs() < 1e-6,
            "{weighting:?}: {value} vs {plain}"
        );
        assert!((value - 0.125).abs() < 1e-6);
        let grads = loss.backward();
        let g = |r: &Tensor<AB, 4>| -> Vec<f32> {
            r.grad(&grads).unwrap().into_data().into_vec().unwrap()
        };
        (g(&r1), g(&r2))
    };
    let n = 48.0;
    for (weighting, w1, w2) in [
        (IterationWeighting::Equal, 1.0, 1.0),
        (IterationWeighting::Relative, 0.625, 2.5),
    ] {
        let (g1, g2) = grads_of(weighting);
        // d/dr of 1/2 · w · mean|r| over 48 elements: w · sign(r) / (2 · 48)
        for (g, w, sign) in [(g1, w1, 1.0), (g2, w2, -1.0)] {
            for v in g {
                assert!(
                    (v - sign * w / (2.0 * n)).abs() < 1e-7,
                    "{weighting:?}: {v}"
                );
            }
        }
    }
}

/// `iteration_ms_ssim` gives one batch-mean MS-SSIM per iteration, equal to
/// `ms_ssim_rgb8` of the 8-bit images: 1 for an exact reconstruction, less for a noisy
/// one; its gradient reaches the reconstruction; crops under 161 px are refused.
#[test]
fn iteration_ms_ssim_is_the_metric_of_each_reconstruction() {
    let device = Default::default();
    let _guard = seeded(7);
    let uniform = || Tensor::<AB, 4>::random([1, 3, 176, 176], Distribution::Default, &device);
    let image = uniform();
    let noisy = (image.clone() + uniform().sub_scalar(0.5).mul_scalar(0.2))
        .clamp(0.0, 1.0)
        .require_grad();
    let out = RecurrentOutput {
        codes: Vec::new(),
        reconstructions: vec![noisy.clone(), image.clone()],
        residuals: Vec::new(),
    };
    let values = iteration_ms_ssim(image.clone(), &out).unwrap();
    assert_eq!(values.dims(), [2]);
    let v: Vec<f32> = values.clone().into_data().into_vec().unwrap();
    assert!((v[1] - 1.0).abs() < 1e-5, "{v:?}");
    let rgb8 = |t: Tensor<AB, 4>| -> Vec<u8> {
        let chw: Vec<f32> = t.inner().into_data().into_vec().unwrap();
        let plane = 176 * 176;
        (0..plane * 3)
            .map(|i| (chw[(i % 3) * plane + i / 3] * 255.0 + 0.5).floor() as u8)
            .collect()
    };
    let reference =
        cvq_core::metrics::ms_ssim_rgb8(&rgb8(image.clone()), &rgb8(noisy.clone()), 176, 176)
            .unwrap();
    assert!(
        (f64::from(v[0]) - reference).abs() < 1e-4 && reference < 0.99,
        "{} vs {reference}",
        v[0]
    );
    let grads = values.sum().backward();
    let g: Vec<f32> = noisy.grad(&grads).unwrap().into_data().into_vec().unwrap();
    assert!(g.iter().any(|x| *x != 0.0) && g.iter().all(|x| x.is_finite()));
    let small = Tensor::<AB, 4>::full([1, 3, 160, 160], 0.5, &device);
    let out = RecurrentOutput {
        codes: Vec::new(),
        reconstructions: vec![small.clone()],
        residuals: Vec::new(),
    };
    assert!(iteration_ms_ssim(small, &out).is_err());
}

#[test]
fn presets_validate_and_report_their_cost() {
    for preset in [
        RecurrentPreset::Seed,
        RecurrentPreset::Compact,
        RecurrentPreset::Tiny,
    ] {
        let cfg = RecurrentConfig::preset(preset);
        cfg.validate().unwrap();
        let c = iteration_cost(&cfg);
        assert!(c.decoder_macs_per_pixel > 0.0 && c.encoder_macs_per_pixel > 0.0);
        eprintln!(
            "{}: {} + {} parameters, {:.0} / {:.0} MAC/px per iteration (encoder / decoder), {} bpp per iteration",
            cfg.name,
            c.encoder_params,
            c.decoder_params,
            c.encoder_macs_per_pixel,
            c.decoder_macs_per_pixel,
            cfg.bpp_per_iteration()
        );
    }
    let seed = RecurrentConfig::preset(RecurrentPreset::Seed);
    assert_eq!(seed.encoder_states, [256, 512, 512]);
    assert_eq!(seed.decoder_states, [512, 512, 256, 128]);
    assert_eq!(seed.bpp_per_iteration(), 0.125);
    let compact = iteration_cost(&RecurrentConfig::preset(RecurrentPreset::Compact));
    assert!(compact.decoder_macs_per_pixel < iteration_cost(&seed).decoder_macs_per_pixel / 10.0);

    let mut bad = seed.clone();
    bad.decoder_states[2] = 130;
    assert_eq!(
        bad.validate(),
        Err(RecurrentConfigError::DecoderState {
            index: 2,
            value: 130
        })
    );
    let mut bad = seed.clone();
    bad.bits = 0;
    assert!(matches!(
        bad.validate(),
        Err(RecurrentConfigError::Zero("bits"))
    ));
    let mut bad = seed.clone();
    bad.iterations = 0;
    assert!(bad.validate().is_err());
    let mut bad = seed;
    bad.name = String::new();
    assert!(RecurrentCodec::<B>::new(&bad, &Default::default()).is_err());
}

/// Widening the last decoder cell keeps what the networks compute (same codes, same
/// reconstructions to float rounding) and adds the new units' parameters; any other
/// change of the configuration is refused.
#[test]
fn a_wider_last_decoder_cell_computes_what_the_narrow_one_did() {
    let _rng = seeded(7);
    let device = Default::default();
    for cell in [CellKind::Lstm, CellKind::Gru] {
        let mut cfg = RecurrentConfig::preset(RecurrentPreset::Tiny);
        cfg.cell = cell;
        let mut wider = cfg.clone();
        wider.decoder_states[3] = 16;
        let narrow = RecurrentCodec::<B>::new(&cfg, &device).unwrap();
        let x = Tensor::<B, 4>::random([1, 3, 48, 64], Distribution::Default, &device);
        // (the forward pass initialises the lazy parameters before they are cloned)
        let a = narrow.forward(x.clone(), 3, false);
        let wide = narrow
            .clone()
            .with_wider_last_decoder_cell(&cfg, &wider, &device)
            .unwrap();
        let cost = iteration_cost(&wider);
        assert_eq!(wide.num_params(), cost.encoder_params + cost.decoder_params);
        assert!(wide.num_params() > narrow.num_params());
        // Every iteration: the codes equal, the reconstructions within float rounding.
        let same_as_narrow = |o: &RecurrentOutput<B>, what: &str| {
            for t in 0..3 {
                let codes = |o: &RecurrentOutput<B>| o.codes[t].clone().into_data();
                assert_eq!(
                    codes(&a),
                    codes(o),
                    "{cell:?} {what}: codes of iteration {t}"
                );
                let diff: f32 = (a.reconstructions[t].clone() - o.reconstructions[t].clone())
                    .abs()
                    .max()
                    .into_scalar();
                assert!(diff < 1e-5, "{cell:?} {what}: iteration {t}: {diff}");
            }
        };
        same_as_narrow(&wide.forward(x.clone(), 3, false), "wider");
        // The same width is a widening by nothing.
        let same = narrow
            .clone()
            .with_wider_last_decoder_cell(&cfg, &cfg, &device)
            .unwrap();
        assert_eq!(same.num_params(), narrow.num_params());
        same_as_narrow(&same.forward(x.clone(), 3, false), "same width");
        for change in [
            |c: &mut RecurrentConfig| c.decoder_states[3] = 4,
            |c: &mut RecurrentConfig| c.decoder_states[2] = 16,
            |c: &mut RecurrentConfig| c.bits = 8,
        ] {
            let mut other = wider.clone();
            change(&mut other);
            assert_eq!(
                narrow
                    .clone()
                    .with_wider_last_decoder_cell(&cfg, &other, &device)
                    .err(),
                Some(RecurrentConfigError::NotAWidening)
            );
        }
    }
}

/// A tiny model learns one crop: the weighted L1 of the residuals over 4 iterations falls
/// by a quarter within 60 Adam steps (stochastic binarizer, straight-through gradient).
#[test]
fn tiny_model_learns_a_crop() {
    let _rng = seeded(3);
    let device = Default::default();
    let cfg = RecurrentConfig::preset(RecurrentPreset::Tiny);
    let mut model = RecurrentCodec::<AB>::new(&cfg, &device).unwrap();
    // A smooth, structured crop.
    let data: Vec<f32> = (0..3 * 32 * 32)
        .map(|i| {
            let (c, y, x) = (i / 1024, (i / 32) % 32, i % 32);
            0.5 + 0.4 * ((x as f32 / 5.0 + c as f32).sin() * (y as f32 / 7.0).cos())
        })
        .collect();
    let x =
        Tensor::<AB, 4>::from_data(burn::tensor::TensorData::new(data, [1, 3, 32, 32]), &device);
    let mut optim = AdamConfig::new().init();
    let mut losses = Vec::new();
    for _ in 0..60 {
        let loss = residual_l1(&model.forward(x.clone(), 4, true));
        losses.push(loss.clone().into_scalar());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(3e-3, model, grads);
    }
    let first = losses[..5].iter().sum::<f32>() / 5.0;
    let last = losses[55..].iter().sum::<f32>() / 5.0;
    eprintln!("weighted L1: {first:.4} → {last:.4}");
    assert!(last < 0.75 * first, "{first} → {last}");
}
