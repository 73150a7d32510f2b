//! Parameter and multiply-accumulate (MAC) counts per sub-network, from the config alone.
//!
//! MACs are per pixel of the input image. Counted: convolutions, GDN, the channel-attention
//! gating multiply, and the 3D context model (per latent symbol, scaled by symbols per
//! pixel). Not counted: element-wise additions and activations, pooling, the attention's
//! pooled linear layers (they run once per image), and the GMM quantizer. The
//! parameter formulas are checked against the instantiated modules by tests.

use crate::config::CvqnConfig;
use crate::config::EntropyKind;
use crate::config::ImportanceKind;
use crate::model::context3d::{context_model_macs_per_symbol, context_model_params};
use crate::model::decoder::{decoder_block_options, decoder_stage_widths};
use crate::model::encoder::{encoder_block_options, encoder_stage_widths};
use crate::model::importance::se_params;
use crate::model::layers::conv::{same_conv_macs, same_conv_params};
use crate::model::layers::gdn::{gdn_macs, gdn_params};
use crate::model::layers::residual::{residual_group_macs, residual_group_params};
use crate::model::parallel::{parallel_model_macs_per_position, parallel_model_params};

/// Size and cost of one sub-network.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SubnetCost {
    /// Trainable parameters.
    pub params: usize,
    /// Multiply-accumulates per image pixel.
    pub macs_per_pixel: f64,
}

/// Costs of every sub-network of a model.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ModelComplexity {
    /// Encoder (incl. SE importance head when used).
    pub encoder: SubnetCost,
    /// Decoder.
    pub decoder: SubnetCost,
    /// All groups' 3D context models.
    pub entropy: SubnetCost,
    /// GMM quantizers (3 parameters per level; MACs not counted).
    pub quantizers: SubnetCost,
}

impl ModelComplexity {
    /// Sum over sub-networks.
    pub fn total(&self) -> SubnetCost {
        let parts = [self.encoder, self.decoder, self.entropy, self.quantizers];
        SubnetCost {
            params: parts.iter().map(|p| p.params).sum(),
            macs_per_pixel: parts.iter().map(|p| p.macs_per_pixel).sum(),
        }
    }
}

/// Computes the costs of `cfg` (assumed validated).
pub fn complexity(cfg: &CvqnConfig) -> ModelComplexity {
    ModelComplexity {
        encoder: encoder_cost(cfg),
        decoder: decoder_cost(cfg),
        entropy: entropy_cost(cfg),
        quantizers: SubnetCost {
            params: cfg.levels.iter().map(|l| 3 * l).sum(),
            macs_per_pixel: 0.0,
        },
    }
}

fn encoder_cost(cfg: &CvqnConfig) -> SubnetCost {
    let enc = &cfg.encoder;
    let opt = encoder_block_options(enc);
    let f = enc.features;
    let mut params = same_conv_params(3, f[0], 3);
    let mut macs = same_conv_macs(3, f[0], 3) as f64;
    for (t, (n, blocks, out)) in encoder_stage_widths(enc).into_iter().enumerate() {
        // stage t runs at 1/4^(t+1) of the image's pixels
        let scale = 1.0 / 4f64.powi(t as i32 + 1);
        let mut stage_macs = residual_group_macs(n, blocks, &opt) + same_conv_macs(n, out, 3);
        params += residual_group_params(n, blocks, &opt) + same_conv_params(n, out, 3);
        if enc.gdn {
            params += gdn_params(n);
            stage_macs += gdn_macs(n);
        }
        macs += stage_macs as f64 * scale;
    }
    params += same_conv_params(f[3], cfg.code_channels, 3);
    macs += same_conv_macs(f[3], cfg.code_channels, 3) as f64 / 256.0;
    if cfg.importance == ImportanceKind::Se {
        params += se_params(cfg.code_channels, cfg.se_reduction);
    }
    // Variable rate: a gain per rate point and channel, one multiply per latent value.
    if cfg.num_rate_points() > 1 {
        params += cfg.num_rate_points() * cfg.code_channels;
        macs += cfg.code_channels as f64 / 256.0;
    }
    SubnetCost {
        params,
        macs_per_pixel: macs,
    }
}

fn decoder_cost(cfg: &CvqnConfig) -> SubnetCost {
    let dec = &cfg.decoder;
    let opt = decoder_block_options(dec);
    let f = dec.features;
    let mut params = same_conv_params(cfg.code_channels, f[0], 3);
    let mut macs = same_conv_macs(cfg.code_channels, f[0], 3) as f64 / 256.0;
    for (t, (c_in, n, blocks)) in decoder_stage_widths(dec).into_iter().enumerate() {
        // stage t runs at 1/4^(4−t) of the image's pixels (before its pixel shuffle)
        let scale = 1.0 / 4f64.powi(4 - t as i32);
        let mut stage_macs = same_conv_macs(c_in, n, 3) + residual_group_macs(n, blocks, &opt);
        params += same_conv_params(c_in, n, 3) + residual_group_params(n, blocks, &opt);
        if dec.gdn {
            params += gdn_params(n);
            stage_macs += gdn_macs(n);
        }
        macs += stage_macs as f64 * scale;
    }
    params += same_conv_params(f[3], 3, 3);
    // The tail runs before the last pixel shuffle (`conv3x3_after_shuffle`): 4·F_3 → 12
    // channels on a quarter of the pixels, 4× the multiply-adds of F_3 → 3 on all.
    macs += same_conv_macs(4 * f[3], 12, 3) as f64 / 4.0;
    // Variable rate: the inverse gains.
    if cfg.num_rate_points() > 1 {
        params += cfg.num_rate_points() * cfg.code_channels;
        macs += cfg.code_channels as f64 / 256.0;
    }
    SubnetCost {
        params,
        macs_per_pixel: macs,
    }
}

fn entropy_cost(cfg: &CvqnConfig) -> SubnetCost {
    let sizes = cfg.group_channels();
    let mut params = 0;
    let mut macs = 0.0;
    for (g, ((&l, &f), &c)) in cfg
        .levels
        .iter()
        .zip(&cfg.entropy_features)
        .zip(&sizes)
        .enumerate()
    {
        match cfg.entropy {
            EntropyKind::Context3d => {
                params += context_model_params(l, f);
                // c symbols per 16×16 pixel block
                macs += context_model_macs_per_symbol(l, f) as f64 * c as f64 / 256.0;
            }
            EntropyKind::Parallel => {
                let prior: usize = sizes[g + 1..].iter().sum();
                params += parallel_model_params(l, c, prior, f);
                if cfg.num_rate_points() > 1 {
                    params += cfg.num_rate_points() * f;
                }
                // one evaluation per 16×16 pixel block
                macs += parallel_model_macs_per_position(l, c, prior, f) as f64 / 256.0;
            }
        }
    }
    SubnetCost {
        params,
        macs_per_pixel: macs,
    }
}
