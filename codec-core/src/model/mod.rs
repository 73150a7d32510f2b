//! The CVQN model: encoder → channel importance → split → GMM quantizers → 3D context
//! entropy models → merge → decoder. Backend-agnostic (any Burn `Backend`).
//!
//! Shapes for an input batch `[B, 3, H, W]` (`H`, `W` multiples of 16):
//! latent `[B, C, H/16, W/16]`; group `g` `[B, C_g, H/16, W/16]` with `L_g` levels;
//! context logits `[B, L_g, C_g, H/16, W/16]`; reconstruction `[B, 3, H, W]`.
//!
//! A variable-rate model (`rate_points = K > 1`) runs at one rate point `k` per call
//! ([`Cvqn::forward_at`]): the latent is multiplied by the learned gain `exp(gain[k])`
//! (`[C]`) before quantization, the dequantized code by the inverse gain
//! `exp(inv_gain[k])` before the decoder, and each group's entropy model adds its rate
//! bias `r_k`.

pub mod context3d;
pub mod cpu;
pub mod decoder;
pub mod encoder;
pub mod importance;
pub mod layers;
pub mod parallel;
pub mod quantizer;
pub mod split_merge;
pub mod synthesis;

use burn::module::{Module, Param};
use burn::tensor::{ElementConversion, Int, Tensor, backend::Backend};

use crate::config::{ConfigError, CvqnConfig, EntropyKind, ImportanceKind};
use context3d::{ContextModel3d, symbol_rates, with_soft_gradient};
use decoder::Decoder;
use encoder::Encoder;
use importance::SeImportance;
use parallel::ParallelContextModel;
use quantizer::GmmQuantizer;
use split_merge::{ChannelGroups, order_tensor, permute_channels, unpermute_channels};

/// The full codec model.
#[derive(Module, Debug)]
pub struct Cvqn<B: Backend> {
    /// Analysis transform.
    pub encoder: Encoder<B>,
    /// Synthesis transform.
    pub decoder: Decoder<B>,
    /// One GMM quantizer per group (least important group first).
    pub quantizers: Vec<GmmQuantizer<B>>,
    /// One 3D context model per group (with [`EntropyKind::Context3d`], else empty).
    pub entropy: Vec<ContextModel3d<B>>,
    /// One parallel context model per group (with [`EntropyKind::Parallel`], else empty).
    pub parallel: Vec<ParallelContextModel<B>>,
    /// SE importance head (only with [`ImportanceKind::Se`]).
    pub se: Option<SeImportance<B>>,
    /// Fixed channel order `[C]` (identity for predefined importance, measured for RE).
    pub order: Tensor<B, 1, Int>,
    /// Log gains `[K, C]` of a variable-rate model, applied to the latent.
    pub gain: Option<Param<Tensor<B, 2>>>,
    /// Log inverse gains `[K, C]` of a variable-rate model, applied to the code.
    pub inv_gain: Option<Param<Tensor<B, 2>>>,
    group_sizes: Vec<usize>,
    se_importance: bool,
}

/// One group's share of a forward pass.
#[derive(Debug, Clone)]
pub struct GroupOutput<B: Backend> {
    /// Straight-through quantized values `[B, C_g, h, w]`.
    pub values: Tensor<B, 4>,
    /// Symbols `[B, C_g, h, w]`, each in `0..L_g`.
    pub symbols: Tensor<B, 4, Int>,
    /// Negative log-likelihood (nats) of each symbol under the context model `[B, C_g, h, w]`.
    pub nll: Tensor<B, 4>,
    /// Its expectation under the quantizer's soft assignment, with the context model's
    /// probabilities detached, `[B, C_g, h, w]` (see [`context3d::symbol_rates`]).
    pub soft_nll: Tensor<B, 4>,
}

/// Everything the quantization stage produces.
#[derive(Debug, Clone)]
pub struct QuantizedCode<B: Backend> {
    /// Encoder output `[B, C, h, w]` as quantized (times the rate point's gain in a
    /// variable-rate model).
    pub latent: Tensor<B, 4>,
    /// Channel order used (least → most important), `[C]`.
    pub order: Tensor<B, 1, Int>,
    /// Per-group quantized values and symbols (permuted channel order).
    pub groups: Vec<(Tensor<B, 4>, Tensor<B, 4, Int>)>,
    /// Per-group soft assignments `[B, C_g, h, w, L_g]` (permuted channel order).
    pub soft_weights: Vec<Tensor<B, 5>>,
    /// Quantized code in the original channel order `[B, C, h, w]`: the decoder input.
    pub code: Tensor<B, 4>,
}

/// Output of [`Cvqn::forward`].
#[derive(Debug, Clone)]
pub struct CvqnOutput<B: Backend> {
    /// Reconstruction `[B, 3, H, W]` (≈ `0..1`, not clamped).
    pub reconstruction: Tensor<B, 4>,
    /// Encoder output `[B, C, h, w]`.
    pub latent: Tensor<B, 4>,
    /// Channel order used, `[C]`.
    pub order: Tensor<B, 1, Int>,
    /// Per-group results.
    pub groups: Vec<GroupOutput<B>>,
    /// Pixels per image `H·W`.
    pub pixels: usize,
}

impl<B: Backend> CvqnOutput<B> {
    /// The same output with every symbol's `nll` given the gradient of its soft
    /// expectation (`nll + soft_nll − stop_gradient(soft_nll)`): the values are
    /// unchanged, and the rate terms computed from them now pull the latent towards
    /// cheaper symbols ([`crate::loss::RateGradient::Soft`]).
    pub fn with_soft_rate_gradient(mut self) -> Self {
        for g in &mut self.groups {
            g.nll = with_soft_gradient(g.nll.clone(), g.soft_nll.clone());
        }
        self
    }

    /// The seed's rate term: mean over groups of the mean cross-entropy (nats/symbol), `[1]`.
    pub fn rate_ce(&self) -> Tensor<B, 1> {
        let n = self.groups.len() as f64;
        Tensor::cat(
            self.groups.iter().map(|g| g.nll.clone().mean()).collect(),
            0,
        )
        .sum()
        .div_scalar(n)
    }

    /// Estimated bits per pixel of the batch: `Σ nll / ln 2 / (B·H·W)`, `[1]`.
    pub fn bpp(&self) -> Tensor<B, 1> {
        let batch = self.reconstruction.dims()[0];
        let bits = Tensor::cat(self.groups.iter().map(|g| g.nll.clone().sum()).collect(), 0)
            .sum()
            .div_scalar(std::f64::consts::LN_2);
        bits.div_scalar((batch * self.pixels) as f64)
    }
}

impl<B: Backend> Cvqn<B> {
    /// Builds a freshly initialised model; the config is validated first.
    pub fn new(cfg: &CvqnConfig, device: &B::Device) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let group_sizes = cfg.group_channels();
        let quantizers = cfg
            .levels
            .iter()
            .map(|&l| GmmQuantizer::new(l, cfg.quantizer_sigma_init, device))
            .collect();
        let (entropy, parallel) = match cfg.entropy {
            EntropyKind::Context3d => (
                cfg.levels
                    .iter()
                    .zip(&cfg.entropy_features)
                    .map(|(&l, &f)| ContextModel3d::new(l, f, device))
                    .collect(),
                Vec::new(),
            ),
            EntropyKind::Parallel => (
                Vec::new(),
                (0..cfg.levels.len())
                    .map(|g| {
                        let prior: usize = group_sizes[g + 1..].iter().sum();
                        ParallelContextModel::new(
                            cfg.levels[g],
                            group_sizes[g],
                            prior,
                            cfg.entropy_features[g],
                            cfg.num_rate_points(),
                            device,
                        )
                    })
                    .collect(),
            ),
        };
        let se_importance = cfg.importance == ImportanceKind::Se;
        let identity: Vec<usize> = (0..cfg.code_channels).collect();
        Ok(Self {
            encoder: Encoder::new(cfg, device),
            decoder: Decoder::new(cfg, device),
            quantizers,
            entropy,
            parallel,
            se: se_importance
                .then(|| SeImportance::new(cfg.code_channels, cfg.se_reduction, device)),
            order: order_tensor(&identity, device),
            gain: synthesis::rate_gains(cfg.num_rate_points(), cfg.code_channels, 1.0, device),
            inv_gain: synthesis::rate_gains(cfg.num_rate_points(), cfg.code_channels, -1.0, device),
            group_sizes,
            se_importance,
        })
    }

    /// Rate points `K` (1 for a fixed-rate model).
    pub fn rate_points(&self) -> usize {
        self.gain.as_ref().map_or(1, |g| g.dims()[0])
    }

    /// Latent channel count `C`.
    pub fn code_channels(&self) -> usize {
        self.group_sizes.iter().sum()
    }

    /// The channel groups (least important first).
    pub fn groups(&self) -> ChannelGroups {
        ChannelGroups::new(self.group_sizes.clone())
    }

    /// Replaces the fixed channel order (RE importance); `order` must be a permutation of
    /// `0..C`.
    pub fn set_order(&mut self, order: &[usize]) {
        assert_eq!(order.len(), self.code_channels(), "order length");
        self.order = order_tensor(order, &self.order.device());
    }

    /// The fixed channel order as host indices (a read-back from the device).
    pub fn order_vec(&self) -> Vec<usize> {
        self.order
            .clone()
            .into_data()
            .convert::<i64>()
            .iter::<i64>()
            .map(|v| v as usize)
            .collect()
    }

    /// Whether [`Self::channel_order`] depends on the latent (SE importance): it then
    /// reads the SE head's scores back from the device.
    pub fn order_from_image(&self) -> bool {
        self.se.is_some() && self.se_importance
    }

    /// Channel order for a latent: the SE head's per-batch order, else the fixed order.
    pub fn channel_order(&self, latent: &Tensor<B, 4>) -> Tensor<B, 1, Int> {
        match (&self.se, self.se_importance) {
            (Some(se), true) => order_tensor(&se.order(latent.clone()), &latent.device()),
            _ => self.order.clone(),
        }
    }

    /// Encoder + quantizers at rate point 0: image `[B, 3, H, W]` → quantized code.
    pub fn quantize(&self, image: Tensor<B, 4>) -> QuantizedCode<B> {
        self.quantize_at(image, 0)
    }

    /// Encoder + quantizers at rate point `rate` (`0..K`).
    ///
    /// # Panics
    ///
    /// If `rate ≥ K`.
    pub fn quantize_at(&self, image: Tensor<B, 4>, rate: usize) -> QuantizedCode<B> {
        self.quantize_latent_at(self.encoder.forward(image), rate)
    }

    /// The encoder output scaled by rate point `rate`'s gain (unchanged for a fixed-rate
    /// model): what the quantizers see.
    pub fn gained(&self, latent: Tensor<B, 4>, rate: usize) -> Tensor<B, 4> {
        match &self.gain {
            Some(g) => latent * synthesis::gain_at(g, rate),
            None => latent,
        }
    }

    /// Gain + quantizers at rate point `rate` for an encoder output `[B, C, h, w]` (what
    /// [`Self::quantize_at`] does after the encoder; tiled analysis computes the latent
    /// window by window).
    ///
    /// # Panics
    ///
    /// If `rate ≥ K`.
    pub fn quantize_latent_at(&self, latent: Tensor<B, 4>, rate: usize) -> QuantizedCode<B> {
        assert!(
            rate < self.rate_points(),
            "rate point {rate} of {}",
            self.rate_points()
        );
        let latent = self.gained(latent, rate);
        let order = self.channel_order(&latent);
        let parts = self
            .groups()
            .split(permute_channels(latent.clone(), order.clone()));
        let (groups, soft_weights): (Vec<_>, Vec<_>) = parts
            .into_iter()
            .zip(&self.quantizers)
            .map(|(part, q)| {
                let out = q.forward(part);
                ((out.values, out.symbols), out.soft_weights)
            })
            .unzip();
        let merged = self
            .groups()
            .merge(groups.iter().map(|(v, _)| v.clone()).collect());
        let code = unpermute_channels(merged, order.clone());
        let code = match &self.inv_gain {
            Some(g) => code * synthesis::gain_at(g, rate),
            None => code,
        };
        QuantizedCode {
            latent,
            order,
            groups,
            soft_weights,
            code,
        }
    }

    /// Full training / evaluation pass at rate point 0 (the only one of a fixed-rate
    /// model).
    pub fn forward(&self, image: Tensor<B, 4>) -> CvqnOutput<B> {
        self.forward_at(image, 0)
    }

    /// Full training / evaluation pass at rate point `rate` (`0..K`).
    ///
    /// # Panics
    ///
    /// If `rate ≥ K`.
    pub fn forward_at(&self, image: Tensor<B, 4>, rate: usize) -> CvqnOutput<B> {
        let [_, _, h, w] = image.dims();
        let q = self.quantize_at(image, rate);
        let logits = self.entropy_logits(&q.groups, rate);
        let groups = q
            .groups
            .into_iter()
            .zip(logits)
            .zip(q.soft_weights)
            .map(|(((values, symbols), logits), soft)| {
                let (nll, soft_nll) = symbol_rates(logits, symbols.clone(), soft);
                GroupOutput {
                    values,
                    symbols,
                    nll,
                    soft_nll,
                }
            })
            .collect();
        CvqnOutput {
            reconstruction: self.decoder.forward(q.code),
            latent: q.latent,
            order: q.order,
            groups,
            pixels: h * w,
        }
    }

    /// Entropy-model logits `[B, L_g, C_g, h, w]` of every group given the quantized
    /// values of all groups (model order), at rate point `rate`.
    pub fn entropy_logits(
        &self,
        groups: &[(Tensor<B, 4>, Tensor<B, 4, Int>)],
        rate: usize,
    ) -> Vec<Tensor<B, 5>> {
        if self.parallel.is_empty() {
            return groups
                .iter()
                .zip(&self.entropy)
                .map(|((values, _), model)| model.forward(values.clone()))
                .collect();
        }
        (0..groups.len())
            .map(|g| {
                let prior = (g + 1 < groups.len()).then(|| {
                    Tensor::cat(groups[g + 1..].iter().map(|(v, _)| v.clone()).collect(), 1)
                });
                self.parallel[g].forward(prior, groups[g].0.clone(), rate)
            })
            .collect()
    }

    /// Decodes symbols (one `[B, C_g, h, w]` tensor per group, permuted order) with the
    /// channel order `order` at rate point `rate` back to an image `[B, 3, 16h, 16w]`.
    pub fn decode_symbols(
        &self,
        symbols: Vec<Tensor<B, 4, Int>>,
        order: Tensor<B, 1, Int>,
        rate: usize,
    ) -> Tensor<B, 4> {
        synthesis::synthesize(
            &self.decoder,
            &self.quantizers,
            self.inv_gain.as_ref(),
            &self.groups(),
            symbols,
            split_merge::inverse_permutation(order),
            rate,
        )
    }

    /// The synthesis half (decoder, quantizers, inverse gains; shares their parameters).
    pub fn synthesis(&self) -> synthesis::Synthesis<B> {
        synthesis::Synthesis {
            decoder: self.decoder.clone(),
            quantizers: self.quantizers.clone(),
            inv_gain: self.inv_gain.clone(),
        }
    }

    /// Re-initialises every quantizer's means to span `±1.5 σ` of `latent` (its
    /// standard deviation over all elements), evenly spaced. A freshly initialised
    /// encoder's latent is much smaller than the default means (`±⌊L/2⌋`), which would
    /// map every value to the same symbol; this data-driven start avoids that.
    pub fn fit_quantizer_means(&mut self, latent: Tensor<B, 4>) {
        let mean = latent.clone().mean();
        let sigma: f32 = latent
            .sub(mean.unsqueeze())
            .powf_scalar(2.0)
            .mean()
            .sqrt()
            .into_scalar()
            .elem();
        let device = self.order.device();
        for q in &mut self.quantizers {
            let l = q.levels();
            let means: Vec<f32> = (0..l)
                .map(|k| sigma * (-1.5 + 3.0 * k as f32 / (l.max(2) - 1) as f32))
                .collect();
            q.mean = burn::module::Param::from_tensor(Tensor::from_data(
                burn::tensor::TensorData::new(means, [l]),
                &device,
            ));
        }
    }

    /// Mean GMM prior loss over groups for a latent `[B, C, h, w]` (`L_GMM`, optional term).
    pub fn gmm_prior(&self, latent: Tensor<B, 4>, order: Tensor<B, 1, Int>) -> Tensor<B, 1> {
        let parts = self.groups().split(permute_channels(latent, order));
        let n = parts.len() as f64;
        let terms = parts
            .into_iter()
            .zip(&self.quantizers)
            .map(|(p, q)| q.prior_nll(p))
            .collect();
        Tensor::cat(terms, 0).sum().div_scalar(n)
    }
}
