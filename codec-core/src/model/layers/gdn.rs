//! Generalized divisive normalization (Ballé et al.) with the lower-bound
//! reparametrisation of β and γ used by the seed.
//!
//! `y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²)` (GDN) or `y_i = x_i · sqrt(…)` (inverse GDN).
//!
//! Parameters are stored as `β' = sqrt(β + p)` and `γ' = sqrt(γ + p)` with pedestal
//! `p = 2^-36`; the effective values are `max(β', β_min')² − p` and `max(γ', γ_min')² − p`.
//! The seed's `LowerBound` lets the gradient through where the input is above the bound
//! or where the gradient pushes it upward. Burn's generic modules cannot define custom
//! backward passes, so here the bound is applied with a straight-through estimator
//! (identity gradient everywhere); the forward value is identical.

use burn::module::{Module, Param};
use burn::tensor::{Tensor, backend::Backend, module::conv2d, ops::ConvOptions};

const REPARAM_OFFSET: f64 = 1.0 / (1u64 << 18) as f64;
const PEDESTAL: f64 = REPARAM_OFFSET * REPARAM_OFFSET;
const BETA_MIN: f64 = 1e-6;
const GAMMA_INIT: f64 = 0.1;

/// GDN over `C` channels: `[B, C, H, W] → [B, C, H, W]`.
#[derive(Module, Debug)]
pub struct Gdn<B: Backend> {
    /// Reparametrised β, shape `[C]`.
    pub beta: Param<Tensor<B, 1>>,
    /// Reparametrised γ, shape `[C, C]` (row `i` holds the weights of output `i`).
    pub gamma: Param<Tensor<B, 2>>,
    inverse: bool,
}

/// Value `max(x, bound)` with an identity (straight-through) gradient.
fn lower_bound<B: Backend, const D: usize>(x: Tensor<B, D>, bound: f64) -> Tensor<B, D> {
    let clamped = x.clone().clamp_min(bound);
    x.clone() + (clamped - x).detach()
}

impl<B: Backend> Gdn<B> {
    /// A GDN (`inverse = false`) or inverse GDN initialised as in the seed
    /// (β = 1, γ = 0.1·I).
    pub fn new(channels: usize, inverse: bool, device: &B::Device) -> Self {
        let beta = Tensor::<B, 1>::ones([channels], device)
            .add_scalar(PEDESTAL)
            .sqrt();
        let gamma = Tensor::<B, 2>::eye(channels, device)
            .mul_scalar(GAMMA_INIT)
            .add_scalar(PEDESTAL)
            .sqrt();
        Self {
            beta: Param::from_tensor(beta),
            gamma: Param::from_tensor(gamma),
            inverse,
        }
    }

    /// Applies the normalisation.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let c = self.beta.dims()[0];
        let beta_bound = (BETA_MIN + PEDESTAL).sqrt();
        let beta = lower_bound(self.beta.val(), beta_bound)
            .powi_scalar(2)
            .sub_scalar(PEDESTAL);
        let gamma = lower_bound(self.gamma.val(), REPARAM_OFFSET)
            .powi_scalar(2)
            .sub_scalar(PEDESTAL)
            .reshape([c, c, 1, 1]);
        let norm = conv2d(
            x.clone().powi_scalar(2),
            gamma,
            Some(beta),
            ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
        )
        .sqrt();
        if self.inverse { x * norm } else { x / norm }
    }
}

/// Parameters of a GDN over `c` channels.
pub const fn gdn_params(c: usize) -> usize {
    c + c * c
}

/// Multiply-accumulates per pixel of a GDN over `c` channels.
pub const fn gdn_macs(c: usize) -> usize {
    c * c + 2 * c
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::{Distribution, TensorData};

    type B = Flex;

    #[test]
    fn gdn_matches_formula_and_inverse_undoes_it() {
        let device = Default::default();
        let x = Tensor::<B, 4>::random([1, 4, 3, 3], Distribution::Normal(0.0, 1.0), &device);
        let gdn = Gdn::<B>::new(4, false, &device);
        let y = gdn.forward(x.clone());
        // With β = 1, γ = 0.1·I: y = x / sqrt(1 + 0.1 x²).
        let expected =
            x.clone() / (x.clone().powi_scalar(2).mul_scalar(0.1).add_scalar(1.0)).sqrt();
        y.clone()
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Default::default());
        let igdn = Gdn::<B>::new(4, true, &device);
        let back = igdn.forward(y.clone());
        // inverse GDN of y with the same parameters is y·sqrt(1 + 0.1 y²), not exactly x, but finite
        let data: TensorData = back.into_data();
        assert!(data.iter::<f32>().all(f32::is_finite));
    }
}
