//! The training backend's `exp`, `tanh` and `sigmoid` on `f32` (cvq's patch of burn-flex,
//! `vendor/burn-flex/VENDORED.md`: polynomial versions that vectorise) against `f64`,
//! and their gradients through autodiff, over the range a recurrent cell's gates see and
//! beyond it.

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData, activation};

type B = Flex;

/// Every 1e-4 from −100 to 100, and small values down to 1e-30 of both signs.
fn inputs() -> Vec<f32> {
    let mut x: Vec<f32> = (-1_000_000..=1_000_000).map(|i| i as f32 * 1e-4).collect();
    x.extend((1..=30).flat_map(|k| [10f32.powi(-k), -(10f32.powi(-k))]));
    x
}

/// The largest relative error of `f` on `x` against `reference` in f64 (absolute below
/// `floor`, where the value itself is smaller).
fn worst(
    x: &[f32],
    f: impl Fn(Tensor<B, 1>) -> Tensor<B, 1>,
    reference: impl Fn(f64) -> f64,
    floor: f64,
) -> (f64, f32) {
    let t = Tensor::<B, 1>::from_data(TensorData::new(x.to_vec(), [x.len()]), &Default::default());
    let got: Vec<f32> = f(t).into_data().to_vec().unwrap();
    let mut worst = (0f64, 0f32);
    for (&xi, &g) in x.iter().zip(&got) {
        let r = reference(f64::from(xi));
        let err = (f64::from(g) - r).abs() / r.abs().max(floor);
        if err > worst.0 {
            worst = (err, xi);
        }
    }
    worst
}

#[test]
fn exp_tanh_and_sigmoid_are_within_a_few_ulp_of_f64() {
    let x = inputs();
    let in_range: Vec<f32> = x.iter().copied().filter(|v| v.abs() <= 87.0).collect();
    let (e, at) = worst(&in_range, Tensor::exp, f64::exp, 0.0);
    assert!(e < 4e-7, "exp: relative error {e} at {at}");
    let (e, at) = worst(&x, Tensor::tanh, f64::tanh, 0.0);
    assert!(e < 2e-6, "tanh: relative error {e} at {at}");
    let (e, at) = worst(
        &in_range,
        activation::sigmoid,
        |v| 1.0 / (1.0 + (-v).exp()),
        0.0,
    );
    assert!(e < 1e-6, "sigmoid: relative error {e} at {at}");
    // beyond the normal range: saturated, finite, never NaN
    let (e, _) = worst(&x, activation::sigmoid, |v| 1.0 / (1.0 + (-v).exp()), 1e-30);
    assert!(e < 1e-6, "sigmoid: {e}");
    let ends = Tensor::<B, 1>::from_floats([-1e30, -100.0, 100.0, 1e30], &Default::default());
    let t: Vec<f32> = ends.clone().tanh().into_data().to_vec().unwrap();
    assert_eq!(t, [-1.0, -1.0, 1.0, 1.0]);
    let s: Vec<f32> = activation::sigmoid(ends.clone())
        .into_data()
        .to_vec()
        .unwrap();
    assert!(s[0] >= 0.0 && s[0] < 1e-37 && s[3] == 1.0, "{s:?}");
    let e: Vec<f32> = ends.exp().into_data().to_vec().unwrap();
    assert!(e.iter().all(|v| v.is_finite() && *v > 0.0), "{e:?}");
    assert_eq!(
        Tensor::<B, 1>::from_floats([0.0], &Default::default())
            .exp()
            .into_scalar(),
        1.0
    );
}

#[test]
fn tanh_and_sigmoid_gradients_follow_their_outputs() {
    type A = Autodiff<Flex>;
    let x: Vec<f32> = (-400..=400).map(|i| i as f32 * 0.02).collect();
    let n = x.len();
    let xs = Tensor::<A, 1>::from_data(TensorData::new(x.clone(), [n]), &Default::default())
        .require_grad();
    let y = xs.clone().tanh().sum() + activation::sigmoid(xs.clone()).sum();
    let grads = y.backward();
    let g: Vec<f32> = xs.grad(&grads).unwrap().into_data().to_vec().unwrap();
    for (&xi, &gi) in x.iter().zip(&g) {
        let (t, s) = (f64::from(xi).tanh(), 1.0 / (1.0 + (-f64::from(xi)).exp()));
        let expected = 1.0 - t * t + s * (1.0 - s);
        assert!(
            (f64::from(gi) - expected).abs() < 1e-6,
            "{xi}: {gi} vs {expected}"
        );
    }
}
