//! The training configuration (`train.json` in a run folder).

use cvq_core::config::CvqnConfig;
use cvq_core::loss::{Distortion, RateDistortionLoss, RateGradient, RateTerm};
use cvq_core::metrics::MS_SSIM_MIN_SIDE;
use serde::{Deserialize, Serialize};

/// Everything that defines a training run. Validated by [`TrainConfig::validate`]
/// before anything is allocated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The model architecture.
    pub model: CvqnConfig,
    /// Loss: distortion kind and weight, GMM prior weight β.
    pub loss: RateDistortionLoss,
    /// Distortion weights (λ or α) of the rate points of a variable-rate model, lowest
    /// quality first (one per rate point, increasing); empty for a fixed-rate model,
    /// which uses the weight in `loss`. Each step trains one rate point, drawn from
    /// `(seed, step)`.
    #[serde(default)]
    pub rate_weights: Vec<f64>,
    /// Rate point stored in exported model files (`--quality` of the CLI).
    pub quality: u8,
    /// Total optimisation steps of the run.
    pub steps: u64,
    /// Images per batch.
    pub batch_size: usize,
    /// Side of the square random crops (multiple of 16; ≥ 176 for MS-SSIM).
    pub crop: usize,
    /// Learning rate of the encoder, decoder and entropy models.
    pub lr: f64,
    /// Learning rate of the quantizer means (`LR_QUA`); π and σ use 0.2 × this.
    pub lr_quantizer: f64,
    /// Steps at which every learning rate is multiplied by `lr_gamma`.
    pub lr_milestones: Vec<u64>,
    /// Multi-step decay factor.
    pub lr_gamma: f64,
    /// Gradients are clipped to `±grad_clip` element-wise (0 disables clipping).
    pub grad_clip: f64,
    /// With RE importance: re-measure the channel order every this many steps (0: never).
    pub re_every: u64,
    /// With RE importance: crops (256×256) used per measurement.
    pub re_images: usize,
    /// Seed of the data order and crops (and of model initialisation).
    pub seed: u64,
    /// Write a checkpoint at least this often (seconds).
    pub checkpoint_secs: u64,
    /// Append a row to `metrics.csv` every this many steps.
    pub log_every: u64,
    /// Data-loading worker threads.
    pub workers: usize,
}

/// A configuration that cannot be trained.
#[derive(Debug, thiserror::Error)]
#[error("invalid training configuration: {0}")]
pub struct TrainConfigError(pub String);

impl TrainConfig {
    /// The defaults for a model: SPEC's learning rates (1e-4, quantizer 5e-5, γ 0.2),
    /// MSE loss with λ = 0.01, batch 8 of 256×256 crops, 10 000 steps.
    pub fn new(model: CvqnConfig) -> Self {
        Self {
            model,
            loss: RateDistortionLoss {
                distortion: Distortion::Mse { lambda: 0.01 },
                gmm_beta: 0.0,
                rate: RateTerm::GroupMeanNats,
                rate_gradient: RateGradient::Soft,
            },
            rate_weights: Vec::new(),
            quality: 1,
            steps: 10_000,
            batch_size: 8,
            crop: 256,
            lr: 1e-4,
            lr_quantizer: 5e-5,
            lr_milestones: Vec::new(),
            lr_gamma: 0.2,
            grad_clip: 1.0,
            re_every: 1000,
            re_images: 4,
            seed: 0,
            checkpoint_secs: 120,
            log_every: 10,
            workers: 2,
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    ///
    /// The first problem found.
    pub fn validate(&self) -> Result<(), TrainConfigError> {
        let err = |m: String| Err(TrainConfigError(m));
        self.model
            .validate()
            .map_err(|e| TrainConfigError(e.to_string()))?;
        check_batch(self.batch_size, self.crop)?;
        if matches!(self.loss.distortion, Distortion::MsSsim { .. }) {
            check_ms_ssim_crop(self.crop)?;
        }
        let k = self.model.num_rate_points();
        if k > 1 && self.rate_weights.len() != k {
            return err(format!(
                "a model with {k} rate points needs {k} rate weights (got {})",
                self.rate_weights.len()
            ));
        }
        if k == 1 && !self.rate_weights.is_empty() {
            return err("rate weights need a variable-rate model (rate_points > 1)".into());
        }
        if self.rate_weights.windows(2).any(|w| w[0] >= w[1])
            || self
                .rate_weights
                .iter()
                .any(|w| !(w.is_finite() && *w > 0.0))
        {
            return err(format!(
                "rate weights must be positive and increasing (got {:?})",
                self.rate_weights
            ));
        }
        for (name, v) in [
            ("distortion weight", self.loss.distortion.weight()),
            ("lr", self.lr),
            ("lr_quantizer", self.lr_quantizer),
            ("lr_gamma", self.lr_gamma),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return err(format!("{name} must be positive and finite (got {v})"));
            }
        }
        if !(self.grad_clip.is_finite() && self.grad_clip >= 0.0) {
            return err(format!("grad_clip must be ≥ 0 (got {})", self.grad_clip));
        }
        if !(self.loss.gmm_beta.is_finite() && self.loss.gmm_beta >= 0.0) {
            return err(format!("gmm_beta must be ≥ 0 (got {})", self.loss.gmm_beta));
        }
        if self.lr_milestones.windows(2).any(|w| w[0] >= w[1]) {
            return err("lr_milestones must be increasing".into());
        }
        check_cadence(self.log_every, self.workers, self.checkpoint_secs)
    }

    /// The rate point trained at `step` (`0..K`): drawn from `(seed, step)`, so a resumed
    /// run trains the same ones; always 0 for a fixed-rate model.
    pub fn rate_point(&self, step: u64) -> usize {
        let k = self.model.num_rate_points() as u64;
        if k <= 1 {
            return 0;
        }
        // SplitMix64 of (seed, step): cheap, uniform enough, independent of the crops'
        // ChaCha streams.
        let mut z = self
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(step)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % k) as usize
    }

    /// The loss of `step`: the distortion weight of its rate point for a
    /// variable-rate model, else `loss`.
    pub fn loss_at(&self, step: u64) -> RateDistortionLoss {
        match self.rate_weights.get(self.rate_point(step)) {
            Some(&w) if self.model.num_rate_points() > 1 => RateDistortionLoss {
                distortion: self.loss.distortion.with_weight(w),
                ..self.loss
            },
            _ => self.loss,
        }
    }

    /// Learning-rate multiplier at `step` (γ to the number of milestones passed).
    pub fn lr_factor(&self, step: u64) -> f64 {
        multistep_factor(&self.lr_milestones, self.lr_gamma, step)
    }
}

/// Checks a batch of `batch_size` crops of `crop`² (1..=1024 crops, sides a positive
/// multiple of 16 up to 4096).
///
/// # Errors
///
/// The first problem found.
pub fn check_batch(batch_size: usize, crop: usize) -> Result<(), TrainConfigError> {
    if batch_size == 0 || batch_size > 1024 {
        return Err(TrainConfigError(format!(
            "batch_size {batch_size} not in 1..=1024"
        )));
    }
    if crop == 0 || !crop.is_multiple_of(16) || crop > 4096 {
        return Err(TrainConfigError(format!(
            "crop {crop} must be a positive multiple of 16, at most 4096"
        )));
    }
    Ok(())
}

/// Checks that `crop` is large enough for a loss with an MS-SSIM term (MS-SSIM's five
/// scales need [`MS_SSIM_MIN_SIDE`] pixels).
///
/// # Errors
///
/// A smaller crop.
pub fn check_ms_ssim_crop(crop: usize) -> Result<(), TrainConfigError> {
    if crop < MS_SSIM_MIN_SIDE {
        return Err(TrainConfigError(format!(
            "the MS-SSIM loss needs crops of at least {MS_SSIM_MIN_SIDE} (got {crop}; crops \
             are multiples of 16, so 176)"
        )));
    }
    Ok(())
}

/// Checks the logging, loading and checkpoint cadence (each at least 1).
///
/// # Errors
///
/// One of them is 0.
pub fn check_cadence(
    log_every: u64,
    workers: usize,
    checkpoint_secs: u64,
) -> Result<(), TrainConfigError> {
    if log_every == 0 || workers == 0 || checkpoint_secs == 0 {
        return Err(TrainConfigError(
            "log_every, workers and checkpoint_secs must be ≥ 1".into(),
        ));
    }
    Ok(())
}

/// The multi-step learning-rate factor at `step`: `gamma` to the number of
/// `milestones` passed.
pub fn multistep_factor(milestones: &[u64], gamma: f64, step: u64) -> f64 {
    let passed = milestones.iter().filter(|&&m| step >= m).count();
    gamma.powi(passed as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cvq_core::config::Preset;

    #[test]
    fn defaults_validate_and_bad_fields_are_named() {
        let cfg = TrainConfig::new(CvqnConfig::preset(Preset::Tiny));
        cfg.validate().unwrap();
        let mut bad = cfg.clone();
        bad.crop = 100;
        assert!(bad.validate().unwrap_err().to_string().contains("crop 100"));
        let mut bad = cfg.clone();
        bad.loss.distortion = Distortion::MsSsim { alpha: 1.0 };
        bad.crop = 128;
        assert!(bad.validate().unwrap_err().to_string().contains("MS-SSIM"));
        let mut bad = cfg.clone();
        bad.lr = f64::NAN;
        assert!(bad.validate().unwrap_err().to_string().contains("lr"));
    }

    #[test]
    fn variable_rate_weights_are_checked_and_cover_every_rate_point() {
        let mut model = CvqnConfig::preset(Preset::Tiny);
        model.rate_points = Some(3);
        let mut cfg = TrainConfig::new(model);
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("3 rate weights")
        );
        cfg.rate_weights = vec![0.01, 0.005, 0.02];
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("increasing")
        );
        cfg.rate_weights = vec![0.002, 0.005, 0.02];
        cfg.validate().unwrap();
        let mut seen = [0usize; 3];
        for step in 0..300 {
            let k = cfg.rate_point(step);
            seen[k] += 1;
            assert_eq!(cfg.loss_at(step).distortion.weight(), cfg.rate_weights[k]);
            assert_eq!(k, cfg.rate_point(step), "a pure function of (seed, step)");
        }
        assert!(
            seen.iter().all(|&n| n > 70),
            "every rate point is trained: {seen:?}"
        );
        let fixed = TrainConfig::new(CvqnConfig::preset(Preset::Tiny));
        assert_eq!(fixed.rate_point(7), 0);
        assert_eq!(fixed.loss_at(7), fixed.loss);
        let mut bad = fixed.clone();
        bad.rate_weights = vec![0.01];
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("variable-rate")
        );
    }

    #[test]
    fn multistep_decay() {
        let mut cfg = TrainConfig::new(CvqnConfig::preset(Preset::Tiny));
        cfg.lr_milestones = vec![10, 20];
        cfg.lr_gamma = 0.5;
        assert_eq!(cfg.lr_factor(9), 1.0);
        assert_eq!(cfg.lr_factor(10), 0.5);
        assert_eq!(cfg.lr_factor(25), 0.25);
    }
}
