//! GMM quantizer (one per channel group): learnable means μ, log σ, log π.
//!
//! With `d_j = (z − μ_j)² / (2(σ_j² + 1e-3))` and weights `w_j = π_j / sqrt(2π(σ_j² + 1e-3))`:
//! - soft value `z̄ = Σ_j softmax_j(−d_j + ln w_j) · μ_j`;
//! - hard symbol `k = argmax_j (−1e4·d_j + ln w_j)` (maximum responsibility);
//! - output `z̄ + stop_gradient(μ_k − z̄)` (straight-through).
//!
//! The softmax is evaluated in the log domain, which equals the seed's
//! `exp(x − max)·w / Σ` formulation exactly in real arithmetic.

use burn::module::{Module, Param};
use burn::tensor::{Int, Tensor, TensorData, activation, backend::Backend};

const VAR_EPS: f64 = 1e-3;
const HARD_SCALE: f64 = 1e4;

/// A GMM quantizer with `L` levels acting on `[B, C, H, W]` tensors.
#[derive(Module, Debug)]
pub struct GmmQuantizer<B: Backend> {
    /// Means μ, shape `[L]`, initialised to `linspace(−(L/2), L/2, L)`.
    pub mean: Param<Tensor<B, 1>>,
    /// log σ, shape `[L]`.
    pub log_std: Param<Tensor<B, 1>>,
    /// log π (unnormalised), shape `[L]`.
    pub log_pi: Param<Tensor<B, 1>>,
}

/// Output of [`GmmQuantizer::forward`].
#[derive(Debug, Clone)]
pub struct Quantized<B: Backend> {
    /// Straight-through quantized values (forward value `μ_k`), `[B, C, H, W]`.
    pub values: Tensor<B, 4>,
    /// Symbols `k ∈ 0..L`, `[B, C, H, W]`.
    pub symbols: Tensor<B, 4, Int>,
    /// Soft assignments `softmax_j(ln w_j − d_j)`, `[B, C, H, W, L]` (differentiable in
    /// `z`, μ, σ and π; what the soft rate gradient of the loss flows through).
    pub soft_weights: Tensor<B, 5>,
}

impl<B: Backend> GmmQuantizer<B> {
    /// New quantizer with `levels` Gaussians of initial std `sigma_init` and equal weights.
    pub fn new(levels: usize, sigma_init: f64, device: &B::Device) -> Self {
        let half = (levels / 2) as f64;
        let means: Vec<f32> = (0..levels)
            .map(|i| {
                if levels == 1 {
                    0.0
                } else {
                    (-half + 2.0 * half * i as f64 / (levels - 1) as f64) as f32
                }
            })
            .collect();
        let mean = Tensor::from_data(TensorData::new(means, [levels]), device);
        Self {
            mean: Param::from_tensor(mean),
            log_std: Param::from_tensor(Tensor::full([levels], sigma_init.ln(), device)),
            log_pi: Param::from_tensor(Tensor::full([levels], -(levels as f64).ln(), device)),
        }
    }

    /// Number of levels `L`.
    pub fn levels(&self) -> usize {
        self.mean.dims()[0]
    }

    /// `σ_j² + 1e-3`, shape `[L]`.
    fn variance(&self) -> Tensor<B, 1> {
        self.log_std.val().mul_scalar(2.0).exp().add_scalar(VAR_EPS)
    }

    /// `ln w_j = ln π_j − ½ ln(2π(σ_j² + 1e-3))` with π normalised, shape `[L]`.
    fn log_weight(&self) -> Tensor<B, 1> {
        let log_pi = activation::log_softmax(self.log_pi.val(), 0);
        log_pi
            - self
                .variance()
                .mul_scalar(2.0 * std::f64::consts::PI)
                .log()
                .mul_scalar(0.5)
    }

    /// `d_j` for every element: `[B, C, H, W] → [B, C, H, W, L]`.
    fn scaled_distance(&self, z: Tensor<B, 4>) -> Tensor<B, 5> {
        let l = self.levels();
        let mean = self.mean.val().reshape([1, 1, 1, 1, l]);
        let var = self.variance().reshape([1, 1, 1, 1, l]);
        (z.unsqueeze_dim::<5>(4) - mean).powi_scalar(2) / var.mul_scalar(2.0)
    }

    /// Quantizes `z` (`[B, C, H, W]`).
    pub fn forward(&self, z: Tensor<B, 4>) -> Quantized<B> {
        let l = self.levels();
        let [b, c, h, w] = z.dims();
        let dist = self.scaled_distance(z);
        let log_w = self.log_weight().reshape([1, 1, 1, 1, l]);
        let soft_w = activation::softmax(log_w.clone() - dist.clone(), 4);
        let mean5 = self.mean.val().reshape([1, 1, 1, 1, l]);
        let soft = (soft_w.clone() * mean5).sum_dim(4).reshape([b, c, h, w]);
        let symbols = (log_w - dist.mul_scalar(HARD_SCALE))
            .argmax(4)
            .reshape([b, c, h, w]);
        let hard = self.dequantize(symbols.clone());
        let values = soft.clone() + (hard - soft).detach();
        Quantized {
            values,
            symbols,
            soft_weights: soft_w,
        }
    }

    /// The symbols [`Self::forward`] picks, without its soft path (what encoding needs):
    /// `[B, C, H, W]` → `[B, C, H, W]` (int). Element-wise, so any window of `z` gives
    /// the same symbols as the whole.
    pub fn symbols(&self, z: Tensor<B, 4>) -> Tensor<B, 4, Int> {
        let l = self.levels();
        let [b, c, h, w] = z.dims();
        let log_w = self.log_weight().reshape([1, 1, 1, 1, l]);
        (log_w - self.scaled_distance(z).mul_scalar(HARD_SCALE))
            .argmax(4)
            .reshape([b, c, h, w])
    }

    /// Symbols → means: `[B, C, H, W]` (int) → `[B, C, H, W]` (float).
    pub fn dequantize(&self, symbols: Tensor<B, 4, Int>) -> Tensor<B, 4> {
        let dims = symbols.dims();
        let flat = symbols.flatten::<1>(0, 3);
        self.mean.val().select(0, flat).reshape(dims)
    }

    /// GMM prior loss `−mean log Σ_q π_q N(z | μ_q, σ_q²)` over all elements of `z`
    /// (the seed's `L_GMM`, averaged instead of summed so its weight β is size-independent).
    pub fn prior_nll(&self, z: Tensor<B, 4>) -> Tensor<B, 1> {
        let l = self.levels();
        let log_w = self.log_weight().reshape([1, 1, 1, 1, l]);
        let x = log_w - self.scaled_distance(z);
        // log-sum-exp with the (detached) maximum factored out, so nothing underflows.
        let max = x.clone().max_dim(4).detach();
        let log_p = (x - max.clone()).exp().sum_dim(4).log() + max;
        log_p.mean().neg()
    }
}
