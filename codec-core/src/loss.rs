//! The rate–distortion training objective of SPEC §1.
//!
//! - MS-SSIM: `α · (1 − MS-SSIM(x₂₅₅, x̂₂₅₅)) + R (+ β · L_GMM)`
//! - MSE:     `λ · 255² · MSE(x, x̂) + R (+ β · L_GMM)`
//!
//! `R` is the seed's rate term, the mean over groups of the mean cross-entropy in nats per
//! symbol ([`CvqnOutput::rate_ce`]), or ([`RateTerm::Bpp`]) the estimated bits per pixel
//! ([`CvqnOutput::bpp`]), which counts every bit alike whatever its group's size, so the
//! weights mean what they mean in CompressAI (`λ·255²·MSE + bpp`). `x₂₅₅ = floor(255·x + 0.5)` clamped to `0..255`, and
//! `x̂₂₅₅` is the reconstruction rounded the same way with a straight-through estimator.

use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::metrics::{MetricError, ms_ssim_tensor};
use crate::model::{Cvqn, CvqnOutput};

/// Which distortion the loss uses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Distortion {
    /// `α · (1 − MS-SSIM)` (images must be > 160 px on each side).
    MsSsim {
        /// Weight α.
        alpha: f64,
    },
    /// `λ · 255² · MSE` on `0..1` images.
    Mse {
        /// Weight λ.
        lambda: f64,
    },
}

impl Distortion {
    /// The weight (α or λ).
    pub fn weight(&self) -> f64 {
        match *self {
            Distortion::MsSsim { alpha } => alpha,
            Distortion::Mse { lambda } => lambda,
        }
    }

    /// The same distortion with another weight.
    pub fn with_weight(self, weight: f64) -> Self {
        match self {
            Distortion::MsSsim { .. } => Distortion::MsSsim { alpha: weight },
            Distortion::Mse { .. } => Distortion::Mse { lambda: weight },
        }
    }
}

/// Which rate term the loss uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RateTerm {
    /// The seed's: mean over groups of the mean cross-entropy per symbol (nats).
    #[default]
    GroupMeanNats,
    /// Estimated bits per pixel of the batch.
    Bpp,
}

/// How the rate term's gradient reaches the encoder.
///
/// The rate is the context model's negative log-likelihood of the hard symbols, and a
/// symbol is an integer index: its own cost gives the latent no gradient. With
/// [`RateGradient::Context`] (the seed's) the encoder sees the rate only through the
/// context model's inputs, so the distortion weight barely moves the rate (measured
/// 2026-11-29: λ = 0.0015 … 0.02 all ended at 0.17–0.18 bpp on Kodak).
/// [`RateGradient::Soft`] adds the gradient of the symbol cost's expectation under the
/// quantizer's soft assignment (`Σ_j s_j(z) · −ln p_j`, `p` detached) while the value
/// stays the hard symbols' cost: the straight-through estimator the quantizer already
/// uses for the values, applied to the rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RateGradient {
    /// Only through the context model's inputs (the seed's; runs written before the
    /// option existed).
    #[default]
    Context,
    /// Also through the soft assignment of every symbol.
    Soft,
}

/// Loss configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateDistortionLoss {
    /// Distortion term and its weight.
    pub distortion: Distortion,
    /// Weight β of the optional GMM prior term (0 disables it).
    pub gmm_beta: f64,
    /// The rate term (the seed's unless a run asks for bpp).
    #[serde(default)]
    pub rate: RateTerm,
    /// How the rate's gradient reaches the encoder (the seed's in runs that predate it).
    #[serde(default)]
    pub rate_gradient: RateGradient,
}

/// The loss and its parts (each `[1]`).
#[derive(Debug, Clone)]
pub struct LossTerms<B: Backend> {
    /// The scalar to minimise.
    pub total: Tensor<B, 1>,
    /// The weighted distortion term.
    pub distortion: Tensor<B, 1>,
    /// The rate term `R` (nats per symbol, mean over groups; or bits per pixel).
    pub rate: Tensor<B, 1>,
    /// The (unweighted) GMM prior term, when β > 0.
    pub gmm: Option<Tensor<B, 1>>,
}

/// `floor(255·x + 0.5)` clamped to `0..255` with a straight-through gradient.
pub fn round_to_8bit<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let scaled = x.mul_scalar(255.0).add_scalar(0.5).clamp(0.0, 255.0);
    scaled.clone() + (scaled.clone().floor() - scaled).detach()
}

impl RateDistortionLoss {
    /// Evaluates the loss of `model`'s forward pass `out` on the input batch `image`
    /// (`[B, 3, H, W]`, values in `0..1`).
    pub fn evaluate<B: Backend>(
        &self,
        model: &Cvqn<B>,
        image: Tensor<B, 4>,
        out: &CvqnOutput<B>,
    ) -> Result<LossTerms<B>, MetricError> {
        let distortion = match self.distortion {
            Distortion::MsSsim { alpha } => {
                let x = round_to_8bit(image).detach();
                let y = round_to_8bit(out.reconstruction.clone());
                ms_ssim_tensor(x, y)?
                    .mean()
                    .neg()
                    .add_scalar(1.0)
                    .mul_scalar(alpha)
            }
            Distortion::Mse { lambda } => (out.reconstruction.clone() - image)
                .powi_scalar(2)
                .mean()
                .mul_scalar(lambda * 255.0 * 255.0),
        };
        let soft;
        let rated = match self.rate_gradient {
            RateGradient::Context => out,
            RateGradient::Soft => {
                soft = out.clone().with_soft_rate_gradient();
                &soft
            }
        };
        let rate = match self.rate {
            RateTerm::GroupMeanNats => rated.rate_ce(),
            RateTerm::Bpp => rated.bpp(),
        };
        let gmm =
            (self.gmm_beta > 0.0).then(|| model.gmm_prior(out.latent.clone(), out.order.clone()));
        let mut total = distortion.clone() + rate.clone();
        if let Some(g) = &gmm {
            total = total + g.clone().mul_scalar(self.gmm_beta);
        }
        Ok(LossTerms {
            total,
            distortion,
            rate,
            gmm,
        })
    }
}
