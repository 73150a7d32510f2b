//! Model configuration: every knob of the CVQN codec, presets, and validation.
//!
//! A [`CvqnConfig`] fully describes one model architecture. Presets mirror the
//! source documents (`paper`, `thesis`, `baseline`, see `../shared/SPEC.md` §1)
//! plus `small`, the default for the web, whose decoder stays under ~60k
//! multiply-accumulates per pixel.
//!
//! ```
//! use cvq_core::config::{CvqnConfig, Preset};
//! let cfg = CvqnConfig::preset(Preset::Small);
//! cfg.validate().unwrap();
//! assert_eq!(cfg.group_channels(), vec![8, 16, 8]);
//! ```

use burn::config::Config;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Most rate points of a variable-rate model ([`CvqnConfig::rate_points`]).
pub const MAX_RATE_POINTS: usize = cvq_entropy::MAX_RATE_POINTS;

/// Largest number of quantization levels a group may use (symbols are stored as `u8`).
pub const MAX_LEVELS: usize = 255;

/// Non-linearity used inside residual blocks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `x` for `x ≥ 0`, `negative_slope · x` otherwise (the seed uses 0.2 in the
    /// encoder and 0.05 in the decoder).
    LeakyRelu {
        /// Slope for negative inputs.
        negative_slope: f64,
    },
    /// No non-linearity.
    Identity,
}

/// Channel-attention variant used inside every RCAB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttentionKind {
    /// RCAN / Ballé style: avg-pool → conv1×1 (C→C/r) → ReLU → conv1×1 (C/r→C) → sigmoid.
    Sigmoid,
    /// The thesis' deeper block: avg-pool → conv (C→C/r) → ReLU → conv (C/r→C/r) → ReLU →
    /// conv (C/r→C) → ReLU → conv (C→C) → softmax over channels.
    DeepSoftmax,
    /// No channel attention: the RCAB is a plain residual block. Every output pixel then
    /// depends only on a bounded neighbourhood of the input (no global pooling), so the
    /// transforms can run tile by tile with a halo and give the whole-image result.
    None,
}

/// How the channel order (least → most important) is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportanceKind {
    /// Fixed order `w_c = c`: the permutation is the identity.
    Predefined,
    /// Squeeze-excitation on the latent: the order is computed per image (batch) from
    /// the latent itself and must be stored in the file.
    Se,
    /// Reconstruction error: the order is measured by the trainer
    /// ([`crate::model::importance::re_importance`]) and stored in the model.
    Re,
}

/// Which entropy model codes the symbols (see `cvq_entropy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntropyKind {
    /// The seed's 3D masked context model per group: exact but sequential (one
    /// network evaluation per symbol when decoding).
    Context3d,
    /// Parallel-decodable: each group conditioned on the more important groups and a
    /// two-pass checkerboard inside the group (two evaluations per group).
    Parallel,
}

/// Encoder (analysis transform, ×16 down-sampling) architecture.
#[derive(Config, Debug, PartialEq)]
pub struct EncoderConfig {
    /// Feature widths `F_0..F_3`: the head outputs `F_0`; stage `t` works on `4·F_t`
    /// channels after the inverse pixel shuffle and outputs `F_{t+1}` (`F_3` for the last).
    pub features: [usize; 4],
    /// Number of RCABs in the residual group of each stage (0 allowed: the group is then
    /// a single conv with a skip connection).
    pub blocks: [usize; 4],
    /// Insert a GDN after each inverse pixel shuffle.
    #[config(default = false)]
    pub gdn: bool,
    /// Activation inside RCABs.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// Channel attention variant.
    #[config(default = "AttentionKind::Sigmoid")]
    pub attention: AttentionKind,
    /// Channel reduction `r` inside channel attention (must divide every width).
    #[config(default = 1)]
    pub attention_reduction: usize,
    /// Scale applied to each RCAB's residual before the skip addition.
    #[config(default = 1.0)]
    pub res_scale: f64,
}

/// Decoder (synthesis transform, ×16 up-sampling) architecture.
#[derive(Config, Debug, PartialEq)]
pub struct DecoderConfig {
    /// Feature widths `F_0..F_3`: the head maps the code to `F_0`; stage `t` maps `F_t` to
    /// `4·F_{t+1}` (`4·F_3` for the last), runs a residual group and a pixel shuffle.
    pub features: [usize; 4],
    /// Number of RCABs in the residual group of each stage.
    pub blocks: [usize; 4],
    /// Insert an inverse GDN before each pixel shuffle.
    #[config(default = false)]
    pub gdn: bool,
    /// Activation inside RCABs.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// Channel attention variant.
    #[config(default = "AttentionKind::Sigmoid")]
    pub attention: AttentionKind,
    /// Channel reduction `r` inside channel attention (must divide every width).
    #[config(default = 1)]
    pub attention_reduction: usize,
    /// Scale applied to each RCAB's residual before the skip addition.
    #[config(default = 1.0)]
    pub res_scale: f64,
}

/// The complete CVQN model description.
#[derive(Config, Debug, PartialEq)]
pub struct CvqnConfig {
    /// Human-readable model name, stored in `.cvq` files (≤ 32 bytes of ASCII).
    pub name: String,
    /// Number of latent channels `C` (`CODE_CHNS`).
    pub code_channels: usize,
    /// Encoder architecture.
    pub encoder: EncoderConfig,
    /// Decoder architecture.
    pub decoder: DecoderConfig,
    /// Quantization levels per group, least important group first (e.g. `[3, 5, 7]`).
    pub levels: Vec<usize>,
    /// Fraction of the `C` channels in each group (same length as `levels`, sums to 1).
    pub group_ratios: Vec<f64>,
    /// Hidden width of each group's entropy model (same length as `levels`).
    pub entropy_features: Vec<usize>,
    /// Entropy model kind (the seed's 3D context model, or the parallel default).
    #[config(default = "EntropyKind::Context3d")]
    pub entropy: EntropyKind,
    /// How channel importance (the channel order) is decided.
    #[config(default = "ImportanceKind::Predefined")]
    pub importance: ImportanceKind,
    /// Channel reduction of the SE importance module.
    #[config(default = 1)]
    pub se_reduction: usize,
    /// Initial σ of every Gaussian of the GMM quantizers.
    #[config(default = 0.7072)]
    pub quantizer_sigma_init: f64,
    /// Dataset RGB mean subtracted by `MeanShift` (inputs in `0..1`).
    #[config(default = "[0.4488, 0.4371, 0.4040]")]
    pub rgb_mean: [f64; 3],
    /// Dataset RGB standard deviation divided by `MeanShift`.
    #[config(default = "[1.0, 1.0, 1.0]")]
    pub rgb_std: [f64; 3],
    /// Rate points `K` of a variable-rate model (1: a fixed-rate model). A
    /// variable-rate model learns, per rate point `k`, a gain on every latent channel
    /// before quantization, an inverse gain after it, and a bias of each group's
    /// entropy model; `.cvq` files store the rate point as their quality `k + 1`.
    /// Needs the parallel entropy model. Absent (`None`, as in every model file
    /// written before variable rate existed) means 1; read it with
    /// [`CvqnConfig::num_rate_points`].
    pub rate_points: Option<usize>,
}

/// Named presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preset {
    /// CVQN paper configuration (SPEC tables 3.1–3.2, `CODE_CHNS` 32 as in the official code).
    Paper,
    /// The thesis' configuration (tables 3.6–3.7): wider, deeper channel attention.
    Thesis,
    /// Thesis baseline (table 3.5): one group with 5 levels.
    Baseline,
    /// Small model for the web: decoder ≈ 36k MAC/pixel.
    Small,
    /// Tiny model for fixtures and CI smoke runs (8 latent channels); not for real use.
    Tiny,
}

impl Preset {
    /// All presets, in display order.
    pub const ALL: [Preset; 5] = [
        Preset::Paper,
        Preset::Thesis,
        Preset::Baseline,
        Preset::Small,
        Preset::Tiny,
    ];

    /// The preset's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Paper => "paper",
            Preset::Thesis => "thesis",
            Preset::Baseline => "baseline",
            Preset::Small => "small",
            Preset::Tiny => "tiny",
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| ConfigError::UnknownPreset(s.to_string()))
    }
}

/// A configuration that cannot be built.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// The preset name is not one of `paper`, `thesis`, `baseline`, `small`, `tiny`.
    #[error("unknown preset `{0}` (expected one of: paper, thesis, baseline, small, tiny)")]
    UnknownPreset(String),
    /// The model name is empty, too long or not printable ASCII.
    #[error("model name {0:?} must be 1..=32 printable ASCII characters")]
    BadName(String),
    /// A width or channel count is zero.
    #[error("{field} must be positive")]
    Zero {
        /// Which field.
        field: &'static str,
    },
    /// `levels`, `group_ratios` and `entropy_features` differ in length, or are empty.
    #[error(
        "levels ({levels}), group_ratios ({ratios}) and entropy_features ({entropy}) must have the same non-zero length"
    )]
    GroupLengths {
        /// `levels.len()`.
        levels: usize,
        /// `group_ratios.len()`.
        ratios: usize,
        /// `entropy_features.len()`.
        entropy: usize,
    },
    /// A group has fewer than 2 or more than [`MAX_LEVELS`] levels.
    #[error("group {group} has {levels} levels; must be in 2..={MAX_LEVELS}")]
    Levels {
        /// Group index.
        group: usize,
        /// Offending level count.
        levels: usize,
    },
    /// Ratios are not positive or do not sum to 1.
    #[error("group_ratios must be positive and sum to 1 (sum = {sum})")]
    Ratios {
        /// Their sum.
        sum: f64,
    },
    /// Rounding the ratios leaves a group without channels.
    #[error("group {group} gets no channel out of {channels}; use fewer groups or more channels")]
    EmptyGroup {
        /// Group index.
        group: usize,
        /// `code_channels`.
        channels: usize,
    },
    /// The attention / SE reduction does not divide a width.
    #[error("{field}: reduction {reduction} must divide width {width}")]
    Reduction {
        /// Which module.
        field: &'static str,
        /// The reduction.
        reduction: usize,
        /// The width it must divide.
        width: usize,
    },
    /// A float knob is out of range.
    #[error("{field} = {value} is out of range ({expected})")]
    OutOfRange {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: f64,
        /// What is allowed.
        expected: &'static str,
    },
}

impl CvqnConfig {
    /// Builds a preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Paper => CvqnConfig::new(
                "cvqn-paper".into(),
                32,
                EncoderConfig::new([32, 64, 128, 192], [6, 6, 6, 6]),
                DecoderConfig::new([192, 128, 64, 32], [6, 6, 6, 6]),
                vec![3, 5, 7],
                vec![0.25, 0.5, 0.25],
                vec![192, 192, 192],
            ),
            Preset::Thesis => CvqnConfig::new(
                "cvqn-thesis".into(),
                32,
                EncoderConfig::new([64, 128, 192, 256], [6, 6, 6, 6])
                    .with_attention(AttentionKind::DeepSoftmax),
                DecoderConfig::new([256, 192, 128, 64], [6, 6, 6, 6])
                    .with_attention(AttentionKind::DeepSoftmax),
                vec![3, 5, 7],
                vec![0.25, 0.5, 0.25],
                vec![256, 256, 256],
            ),
            Preset::Baseline => CvqnConfig::new(
                "cvqn-baseline".into(),
                32,
                EncoderConfig::new([64, 128, 192, 256], [6, 6, 6, 6])
                    .with_attention(AttentionKind::DeepSoftmax),
                DecoderConfig::new([256, 192, 128, 64], [6, 6, 6, 6])
                    .with_attention(AttentionKind::DeepSoftmax),
                vec![5],
                vec![1.0],
                vec![256],
            ),
            Preset::Small => CvqnConfig::new(
                "cvq-small".into(),
                32,
                EncoderConfig::new([16, 32, 64, 96], [0, 1, 1, 1]).with_attention_reduction(4),
                DecoderConfig::new([96, 64, 32, 16], [1, 1, 1, 0]).with_attention_reduction(4),
                vec![3, 5, 7],
                vec![0.25, 0.5, 0.25],
                vec![32, 32, 32],
            )
            .with_entropy(EntropyKind::Parallel),
            Preset::Tiny => CvqnConfig::new(
                "cvq-tiny".into(),
                8,
                EncoderConfig::new([4, 4, 8, 8], [0, 0, 0, 0]).with_attention_reduction(4),
                DecoderConfig::new([8, 8, 4, 4], [0, 0, 0, 0]).with_attention_reduction(4),
                vec![3, 5, 7],
                vec![0.25, 0.5, 0.25],
                vec![8, 8, 8],
            )
            .with_entropy(EntropyKind::Parallel),
        }
    }

    /// Rate points `K` (1 for a fixed-rate model).
    pub fn num_rate_points(&self) -> usize {
        self.rate_points.unwrap_or(1)
    }

    /// Number of channel groups.
    pub fn num_groups(&self) -> usize {
        self.levels.len()
    }

    /// Channels per group, from the ratios: group boundaries are
    /// `round(C · cumsum(ratios))`, so the counts always sum to `C`.
    pub fn group_channels(&self) -> Vec<usize> {
        let c = self.code_channels as f64;
        let mut acc = 0.0;
        let mut prev = 0usize;
        let n = self.group_ratios.len();
        self.group_ratios
            .iter()
            .enumerate()
            .map(|(i, r)| {
                acc += r;
                let end = if i + 1 == n {
                    self.code_channels
                } else {
                    ((acc * c).round() as usize).min(self.code_channels)
                };
                let count = end.saturating_sub(prev);
                prev = prev.max(end);
                count
            })
            .collect()
    }

    /// Checks every field; a model can be built from any config that passes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 32
            && self.name.bytes().all(|b| b.is_ascii_graphic());
        if !name_ok {
            return Err(ConfigError::BadName(self.name.clone()));
        }
        if self.code_channels == 0 {
            return Err(ConfigError::Zero {
                field: "code_channels",
            });
        }
        check_transform(
            "encoder.features",
            &self.encoder.features,
            self.encoder.attention_reduction,
            self.encoder.res_scale,
            self.encoder.activation,
        )?;
        check_transform(
            "decoder.features",
            &self.decoder.features,
            self.decoder.attention_reduction,
            self.decoder.res_scale,
            self.decoder.activation,
        )?;
        let (l, r, e) = (
            self.levels.len(),
            self.group_ratios.len(),
            self.entropy_features.len(),
        );
        if l == 0 || l != r || l != e {
            return Err(ConfigError::GroupLengths {
                levels: l,
                ratios: r,
                entropy: e,
            });
        }
        for (group, &levels) in self.levels.iter().enumerate() {
            if !(2..=MAX_LEVELS).contains(&levels) {
                return Err(ConfigError::Levels { group, levels });
            }
        }
        let sum: f64 = self.group_ratios.iter().sum();
        if self.group_ratios.iter().any(|r| r.is_nan() || *r <= 0.0) || (sum - 1.0).abs() > 1e-6 {
            return Err(ConfigError::Ratios { sum });
        }
        if let Some(group) = self.group_channels().iter().position(|&c| c == 0) {
            return Err(ConfigError::EmptyGroup {
                group,
                channels: self.code_channels,
            });
        }
        if self.entropy_features.contains(&0) {
            return Err(ConfigError::Zero {
                field: "entropy_features",
            });
        }
        let rates = self.num_rate_points();
        if rates == 0 || rates > MAX_RATE_POINTS {
            return Err(ConfigError::OutOfRange {
                field: "rate_points",
                value: rates as f64,
                expected: "1..=64",
            });
        }
        if rates > 1 && self.entropy != EntropyKind::Parallel {
            return Err(ConfigError::OutOfRange {
                field: "rate_points",
                value: rates as f64,
                expected: "1 with the 3D context model (variable rate needs the parallel model)",
            });
        }
        if self.se_reduction == 0 || !self.code_channels.is_multiple_of(self.se_reduction) {
            return Err(ConfigError::Reduction {
                field: "se_reduction",
                reduction: self.se_reduction,
                width: self.code_channels,
            });
        }
        if self.quantizer_sigma_init.is_nan()
            || self.quantizer_sigma_init <= 0.0
            || self.quantizer_sigma_init.is_infinite()
        {
            return Err(ConfigError::OutOfRange {
                field: "quantizer_sigma_init",
                value: self.quantizer_sigma_init,
                expected: "finite and > 0",
            });
        }
        if let Some(&s) = self
            .rgb_std
            .iter()
            .find(|s| s.is_nan() || **s <= 0.0 || s.is_infinite())
        {
            return Err(ConfigError::OutOfRange {
                field: "rgb_std",
                value: s,
                expected: "finite and > 0",
            });
        }
        Ok(())
    }
}

/// Shared checks of encoder and decoder widths.
fn check_transform(
    field: &'static str,
    features: &[usize; 4],
    reduction: usize,
    res_scale: f64,
    activation: Activation,
) -> Result<(), ConfigError> {
    if features.contains(&0) {
        return Err(ConfigError::Zero { field });
    }
    // Residual groups run on 4·F_t channels; every width must be divisible by r.
    for &f in features {
        if reduction == 0 || !(4 * f).is_multiple_of(reduction) {
            return Err(ConfigError::Reduction {
                field,
                reduction,
                width: 4 * f,
            });
        }
    }
    if !res_scale.is_finite() {
        return Err(ConfigError::OutOfRange {
            field: "res_scale",
            value: res_scale,
            expected: "finite",
        });
    }
    if let Activation::LeakyRelu { negative_slope } = activation
        && !(0.0..1.0).contains(&negative_slope)
    {
        return Err(ConfigError::OutOfRange {
            field: "activation.negative_slope",
            value: negative_slope,
            expected: "0 <= slope < 1",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate() {
        for p in Preset::ALL {
            let cfg = CvqnConfig::preset(p);
            cfg.validate().unwrap();
            assert_eq!(
                cfg.group_channels().iter().sum::<usize>(),
                cfg.code_channels
            );
            assert_eq!(p.name().parse::<Preset>().unwrap(), p);
        }
        assert_eq!(
            CvqnConfig::preset(Preset::Paper).group_channels(),
            vec![8, 16, 8]
        );
    }

    #[test]
    fn invalid_configs_are_typed_errors() {
        let base = CvqnConfig::preset(Preset::Small);
        let mut c = base.clone();
        c.levels = vec![1, 5, 7];
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Levels {
                group: 0,
                levels: 1
            })
        ));
        let mut c = base.clone();
        c.group_ratios = vec![0.5, 0.5, 0.5];
        assert!(matches!(c.validate(), Err(ConfigError::Ratios { .. })));
        let mut c = base.clone();
        c.entropy_features.pop();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::GroupLengths { .. })
        ));
        let mut c = base.clone();
        c.code_channels = 2;
        assert!(matches!(c.validate(), Err(ConfigError::EmptyGroup { .. })));
        let mut c = base.clone();
        c.decoder.attention_reduction = 7;
        assert!(matches!(c.validate(), Err(ConfigError::Reduction { .. })));
        let mut c = base.clone();
        c.name = "has space".into();
        assert!(matches!(c.validate(), Err(ConfigError::BadName(_))));
        assert!(matches!(
            "huge".parse::<Preset>(),
            Err(ConfigError::UnknownPreset(_))
        ));
    }

    #[test]
    fn config_json_round_trip() {
        let cfg = CvqnConfig::preset(Preset::Thesis);
        let json = serde_json::to_string(&cfg).unwrap();
        let back: CvqnConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cfg);
    }
}
