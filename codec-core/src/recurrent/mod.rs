//! The recurrent progressive codec (SPEC §2; Toderici et al. 2017, "Full Resolution Image
//! Compression with Recurrent Neural Networks"): each iteration encodes the remaining
//! residual into `bits` binary codes per 16×16 block, so a file cut after any iteration
//! still decodes and more iterations give more quality.
//!
//! Shapes (image `[B, 3, H, W]`, values `0..1`, `H` and `W` multiples of 16, the
//! networks' total stride; [`codec`] pads any image by edge replication and crops back):
//! encoder: conv 3×3 /2 → `encoder_head` @ H/2 → cells /2 → `encoder_states` @ H/4, H/8,
//! H/16 → binarizer (1×1 conv, tanh, sign) → codes `[B, bits, H/16, W/16]` in {−1, +1};
//! decoder: 1×1 conv → `decoder_head` @ H/16 → cell, depth-to-space ×2, four times
//! (`decoder_states` @ H/16, H/8, H/4, H/2) → 1×1 conv → tanh / 2 → `[B, 3, H, W]`
//! (each iteration's output within ±0.5).
//!
//! [`codec`] turns a trained model into `.cvq` files: one group of binary codes per
//! iteration, coded by [`cvq_entropy::binary`]. [`cpu`] runs the decoder on the CPU
//! without Burn (channels-last kernels), for the tools and the browser's CPU path.

pub mod cell;
pub mod codec;
pub mod config;
pub mod cpu;

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Distribution, Tensor, activation, backend::Backend};

use crate::model::layers::pixel_shuffle::pixel_shuffle;
use cell::{CellState, ConvRnnCell, cell_macs, cell_params, gates};
use config::{ReconstructionMode, RecurrentConfig, RecurrentConfigError};

/// The recurrent codec's networks.
#[derive(Module, Debug)]
pub struct RecurrentCodec<B: Backend> {
    encoder_head: Conv2d<B>,
    encoder: Vec<ConvRnnCell<B>>,
    binarizer: Conv2d<B>,
    decoder_head: Conv2d<B>,
    decoder: Vec<ConvRnnCell<B>>,
    decoder_tail: Conv2d<B>,
    /// Residual-scaling gain network (`None` in the other modes).
    gain: Option<GainNet<B>>,
    mode: ReconstructionMode,
}

/// Predicts a positive gain map `[B, 1, H, W]` (constant on 4×4 blocks) from the current
/// reconstruction: conv 3×3 /2 → ReLU → conv 3×3 /2 → `1 + softplus`.
#[derive(Module, Debug)]
pub struct GainNet<B: Backend> {
    conv1: Conv2d<B>,
    conv2: Conv2d<B>,
}

impl<B: Backend> GainNet<B> {
    fn new(device: &B::Device) -> Self {
        Self {
            conv1: strided(3, 16, 3, 2, device),
            conv2: strided(16, 1, 3, 2, device),
        }
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let g = self.conv2.forward(activation::relu(self.conv1.forward(x)));
        let g = activation::softplus(g, 1.0).add_scalar(1.0);
        pixel_shuffle(g.repeat_dim(1, 16), 4)
    }
}

fn strided<B: Backend>(
    c_in: usize,
    c_out: usize,
    k: usize,
    s: usize,
    device: &B::Device,
) -> Conv2d<B> {
    Conv2dConfig::new([c_in, c_out], [k, k])
        .with_stride([s, s])
        .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
        .init(device)
}

/// The states of every cell between iterations (`None` before the first).
#[derive(Debug, Clone, Default)]
pub struct RecurrentState<B: Backend> {
    encoder: Vec<Option<CellState<B>>>,
    decoder: Vec<Option<CellState<B>>>,
}

/// The result of running `T` iterations on an image.
#[derive(Debug, Clone)]
pub struct RecurrentOutput<B: Backend> {
    /// Codes of each iteration, `[B, bits, H/16, W/16]`, values ±1.
    pub codes: Vec<Tensor<B, 4>>,
    /// Reconstruction after each iteration, `[B, 3, H, W]` (values ≈ `0..1`).
    pub reconstructions: Vec<Tensor<B, 4>>,
    /// Residual `x − x̂_t` after each iteration.
    pub residuals: Vec<Tensor<B, 4>>,
}

impl<B: Backend> RecurrentCodec<B> {
    /// Fresh weights for `cfg`.
    ///
    /// # Errors
    ///
    /// An invalid configuration.
    pub fn new(cfg: &RecurrentConfig, device: &B::Device) -> Result<Self, RecurrentConfigError> {
        cfg.validate()?;
        let [e0, e1, e2] = cfg.encoder_states;
        let d = cfg.decoder_states;
        let encoder = [(cfg.encoder_head, e0), (e0, e1), (e1, e2)]
            .into_iter()
            .map(|(i, o)| ConvRnnCell::new(cfg.cell, i, o, 2, device))
            .collect();
        let decoder = [
            (cfg.decoder_head, d[0]),
            (d[0] / 4, d[1]),
            (d[1] / 4, d[2]),
            (d[2] / 4, d[3]),
        ]
        .into_iter()
        .map(|(i, o)| ConvRnnCell::new(cfg.cell, i, o, 1, device))
        .collect();
        Ok(Self {
            encoder_head: strided(3, cfg.encoder_head, 3, 2, device),
            encoder,
            binarizer: Conv2dConfig::new([e2, cfg.bits], [1, 1]).init(device),
            decoder_head: Conv2dConfig::new([cfg.bits, cfg.decoder_head], [1, 1]).init(device),
            decoder,
            decoder_tail: Conv2dConfig::new([d[3] / 4, 3], [1, 1]).init(device),
            gain: (cfg.mode == ReconstructionMode::ResidualScaling).then(|| GainNet::new(device)),
            mode: cfg.mode,
        })
    }

    /// These networks (of `config`) with the last decoder cell widened to `wider`'s
    /// `decoder_states[3]` hidden channels, computing exactly what they did: the old
    /// units keep their weights, the new ones start from fresh weights and reach the
    /// output through zero tail weights, so training can grow them from a trained model
    /// (`rnn_widen` example). `wider` must equal `config` in every other field.
    ///
    /// # Errors
    ///
    /// [`RecurrentConfigError::NotAWidening`], or an invalid `wider`.
    pub fn with_wider_last_decoder_cell(
        mut self,
        config: &RecurrentConfig,
        wider: &RecurrentConfig,
        device: &B::Device,
    ) -> Result<Self, RecurrentConfigError> {
        let (n, m) = (config.decoder_states[3], wider.decoder_states[3]);
        let mut same = wider.clone();
        same.decoder_states[3] = n;
        if same != *config || m < n {
            return Err(RecurrentConfigError::NotAWidening);
        }
        let fresh = Self::new(wider, device)?;
        let wide_cell = fresh
            .decoder
            .into_iter()
            .last()
            .expect("four decoder cells");
        let last = self.decoder.pop().expect("four decoder cells");
        self.decoder.push(last.widened_into(wide_cell));
        // The tail reads the depth-to-space of the last cell: the old units' n/4
        // channels first, then the new units' (PyTorch's channel order).
        let old_tail = self.decoder_tail.weight.val();
        let mut tail = fresh.decoder_tail;
        tail.weight = tail.weight.map(|w| {
            let [o, _, kh, kw] = w.dims();
            Tensor::zeros(w.dims(), &w.device())
                .slice_assign([0..o, 0..n / 4, 0..kh, 0..kw], old_tail)
        });
        tail.bias = self.decoder_tail.bias.take();
        self.decoder_tail = tail;
        Ok(self)
    }

    /// The networks without the encoder's recurrent cells (most of the encoder's
    /// weights): what a decoder-only model file stores. The small encoder head and
    /// binarizer convolutions stay, so the record keeps its layout. Such a codec cannot
    /// encode ([`Self::has_encoder`]).
    pub fn without_encoder(mut self) -> Self {
        self.encoder.clear();
        self
    }

    /// The decoder's channels-last CPU kernels ([`cpu`]), each convolution on `threads`
    /// threads: `None` in residual-scaling mode (its gain network stays on Burn) or when
    /// the backend's weights cannot be read.
    pub fn cpu_decoder(&self, threads: usize) -> Option<cpu::CpuRecurrentDecoder> {
        if self.gain.is_some() {
            return None;
        }
        let conv1x1 = crate::model::layers::conv::conv1x1_kernel;
        Some(cpu::CpuRecurrentDecoder {
            head: conv1x1(&self.decoder_head)?,
            cells: self
                .decoder
                .iter()
                .map(ConvRnnCell::cpu_kernels)
                .collect::<Option<_>>()?,
            tail: conv1x1(&self.decoder_tail)?,
            mode: self.mode,
            threads: threads.max(1),
        })
    }

    /// The encoder's channels-last CPU kernels with the deterministic binarizer
    /// ([`cpu`]), each convolution on `threads` threads: `None` in residual-scaling mode,
    /// for a decoder-only cut, or when the backend's weights cannot be read.
    pub fn cpu_encoder(&self, threads: usize) -> Option<cpu::CpuRecurrentEncoder> {
        if self.gain.is_some() || !self.has_encoder() {
            return None;
        }
        Some(cpu::CpuRecurrentEncoder {
            head: crate::model::layers::conv::conv3x3_kernel(&self.encoder_head)?,
            cells: self
                .encoder
                .iter()
                .map(ConvRnnCell::cpu_kernels)
                .collect::<Option<_>>()?,
            binarizer: crate::model::layers::conv::conv1x1_kernel(&self.binarizer)?,
            threads: threads.max(1),
        })
    }

    /// Whether the encoder's cells are present (false for a decoder-only cut).
    pub fn has_encoder(&self) -> bool {
        !self.encoder.is_empty()
    }

    /// The encoder and binarizer on one residual: codes `[B, bits, H/16, W/16]` in ±1.
    /// `stochastic` (training): `+1` with probability `(1 + b)/2` for `b = tanh(·)`, with
    /// a straight-through gradient; otherwise `sign(b)` (0 → +1).
    pub fn encode_step(
        &self,
        residual: Tensor<B, 4>,
        state: &mut RecurrentState<B>,
        stochastic: bool,
    ) -> Tensor<B, 4> {
        let x = self.encoder_head.forward(residual);
        let x = run_cells(&self.encoder, x, &mut state.encoder, |h| h);
        binarize(self.binarizer.forward(x).tanh(), stochastic)
    }

    /// The decoder on one iteration's codes: its output `[B, 3, H, W]`, within ±0.5.
    pub fn decode_step(&self, codes: Tensor<B, 4>, state: &mut RecurrentState<B>) -> Tensor<B, 4> {
        let x = self.decoder_head.forward(codes);
        let x = run_cells(&self.decoder, x, &mut state.decoder, |h| {
            pixel_shuffle(h, 2)
        });
        // Bounded to ±0.5 per iteration (the reference implementations' tanh / 2): an
        // untrained decoder cannot add up to a reconstruction far outside 0..1.
        self.decoder_tail.forward(x).tanh().mul_scalar(0.5)
    }

    /// The reconstruction after an iteration from the previous one and the decoder's
    /// output (`gain`: the residual-scaling map of this iteration).
    fn reconstruct(
        &self,
        previous: Tensor<B, 4>,
        out: Tensor<B, 4>,
        gain: Option<Tensor<B, 4>>,
    ) -> Tensor<B, 4> {
        match (self.mode, gain) {
            (ReconstructionMode::OneShot, _) => out.add_scalar(0.5),
            (_, Some(g)) => previous + out / g,
            (_, None) => previous + out,
        }
    }

    /// One iteration on `image` from the reconstruction `recon` so far: the codes
    /// `[B, bits, H/16, W/16]` and the next reconstruction (`state` carries the cells).
    pub fn iterate(
        &self,
        image: Tensor<B, 4>,
        recon: Tensor<B, 4>,
        state: &mut RecurrentState<B>,
        stochastic: bool,
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let gain = self.gain.as_ref().map(|g| g.forward(recon.clone()));
        let residual = image - recon.clone();
        let input = match &gain {
            Some(g) => residual * g.clone(),
            None => residual,
        };
        let codes = self.encode_step(input, state, stochastic);
        let decoded = self.decode_step(codes.clone(), state);
        (codes, self.reconstruct(recon, decoded, gain))
    }

    /// The decoder's half of [`iterate`](Self::iterate): the next reconstruction from one
    /// iteration's codes (what a file's reader runs per stored iteration).
    pub fn decode_iteration(
        &self,
        codes: Tensor<B, 4>,
        recon: Tensor<B, 4>,
        state: &mut RecurrentState<B>,
    ) -> Tensor<B, 4> {
        let gain = self.gain.as_ref().map(|g| g.forward(recon.clone()));
        let decoded = self.decode_step(codes, state);
        self.reconstruct(recon, decoded, gain)
    }

    /// The reconstruction before any iteration: mid grey, `[B, 3, H, W]` of 0.5.
    pub fn initial_reconstruction(image_shape: [usize; 4], device: &B::Device) -> Tensor<B, 4> {
        Tensor::full(image_shape, 0.5, device)
    }

    /// `iterations` iterations on `image` (`[B, 3, H, W]`, `H`, `W` multiples of 16):
    /// codes, reconstructions and residuals of each. The first residual is
    /// `image − 0.5`, the reconstruction before any iteration 0.5 (mid grey).
    pub fn forward(
        &self,
        image: Tensor<B, 4>,
        iterations: usize,
        stochastic: bool,
    ) -> RecurrentOutput<B> {
        let mut state = RecurrentState::default();
        let mut recon = Self::initial_reconstruction(image.dims(), &image.device());
        let mut out = RecurrentOutput {
            codes: Vec::with_capacity(iterations),
            reconstructions: Vec::with_capacity(iterations),
            residuals: Vec::with_capacity(iterations),
        };
        for _ in 0..iterations {
            let (codes, next) = self.iterate(image.clone(), recon, &mut state, stochastic);
            recon = next;
            out.codes.push(codes);
            out.reconstructions.push(recon.clone());
            out.residuals.push(image.clone() - recon.clone());
        }
        out
    }
}

/// `x` through `cells` in order, each from its state in `states` (the zero state before
/// the first iteration; replaced by the new one); `between` maps a cell's new `h` to the
/// next cell's input (the decoder's depth-to-space, the encoder's identity). Returns the
/// last cell's mapped output.
fn run_cells<B: Backend>(
    cells: &[ConvRnnCell<B>],
    mut x: Tensor<B, 4>,
    states: &mut Vec<Option<CellState<B>>>,
    between: impl Fn(Tensor<B, 4>) -> Tensor<B, 4>,
) -> Tensor<B, 4> {
    states.resize(cells.len(), None);
    for (cell, s) in cells.iter().zip(states.iter_mut()) {
        let [b, _, h, w] = x.dims();
        let prev = s
            .take()
            .unwrap_or_else(|| cell.zero_state(b, h, w, &x.device()));
        let next = cell.forward(x, prev);
        x = between(next.h.clone());
        *s = Some(next);
    }
    x
}

/// The binarizer's sign step on `b = tanh(·)` (see [`RecurrentCodec::encode_step`]).
pub fn binarize<B: Backend>(b: Tensor<B, 4>, stochastic: bool) -> Tensor<B, 4> {
    let hard = if stochastic {
        // +1 where u < (1 + b)/2, u uniform in [0, 1)
        let u = b.random_like(Distribution::Uniform(0.0, 1.0));
        u.lower(b.clone().add_scalar(1.0).div_scalar(2.0))
            .float()
            .mul_scalar(2.0)
            .sub_scalar(1.0)
    } else {
        b.clone()
            .greater_equal_elem(0.0)
            .float()
            .mul_scalar(2.0)
            .sub_scalar(1.0)
    };
    // straight-through: exactly the value of `hard` (b − b = 0), the gradient of `b`
    hard + (b.clone() - b.detach())
}

/// The seed's loss: the mean absolute residual of every iteration, averaged over the
/// iterations (equal weights): `1/T Σ_t mean|x − x̂_t|`.
pub fn residual_l1<B: Backend>(out: &RecurrentOutput<B>) -> Tensor<B, 1> {
    let t = out.residuals.len().max(1) as f64;
    out.residuals
        .iter()
        .map(|r| r.clone().abs().mean())
        .reduce(|a, b| a + b)
        .expect("at least one iteration")
        .div_scalar(t)
}

/// MS-SSIM of every iteration's reconstruction against `image` (`[B, 3, H, W]`, values
/// `0..1`, `min(H, W) ≥` [`MS_SSIM_MIN_SIDE`](crate::metrics::MS_SSIM_MIN_SIDE)),
/// averaged over the batch: `[T]`, differentiable. Both images go through
/// [`round_to_8bit`](crate::loss::round_to_8bit) first, as in CVQN's MS-SSIM loss, so a
/// reconstruction outside `0..1` gets no gradient from this term (the L1 term still
/// pulls it back). A fine-tuning loss is `L1 + α · (1 − mean_t MS-SSIM_t)`.
///
/// # Errors
///
/// Images smaller than MS-SSIM's minimum side.
pub fn iteration_ms_ssim<B: Backend>(
    image: Tensor<B, 4>,
    out: &RecurrentOutput<B>,
) -> Result<Tensor<B, 1>, crate::metrics::MetricError> {
    let reference = crate::loss::round_to_8bit(image).detach();
    let per_iteration = out
        .reconstructions
        .iter()
        .map(|r| {
            crate::metrics::ms_ssim_tensor(reference.clone(), crate::loss::round_to_8bit(r.clone()))
                .map(|v| v.mean())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Tensor::cat(per_iteration, 0))
}

/// How [`residual_loss`] weights the iterations' mean absolute residuals `L_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IterationWeighting {
    /// The seed's [`residual_l1`]: `1/T Σ_t L_t`. In additive and residual-scaling mode
    /// the output of iteration `t` moves every residual from `t` to `T`, so the early
    /// iterations' outputs take most of the gradient.
    #[default]
    Equal,
    /// `1/T Σ_t w_t L_t` with `w_t = L̄ / L_t` held constant (`L̄` the mean of the `L_t`):
    /// the same value as [`Equal`](Self::Equal), with the gradient of
    /// `L̄ · 1/T Σ_t ln L_t`. Each iteration's relative improvement (what PSNR, a
    /// logarithm, measures) counts the same, so the later iterations, whose residuals
    /// are small, are not drowned out by the first.
    Relative,
}

/// The training loss over the iterations, weighted as `weighting` says (a `[1]` tensor).
pub fn residual_loss<B: Backend>(
    out: &RecurrentOutput<B>,
    weighting: IterationWeighting,
) -> Tensor<B, 1> {
    match weighting {
        IterationWeighting::Equal => residual_l1(out),
        IterationWeighting::Relative => {
            let per_iteration = Tensor::cat(
                out.residuals
                    .iter()
                    .map(|r| r.clone().abs().mean())
                    .collect(),
                0,
            );
            // floored so that an exact reconstruction cannot divide by zero
            let constant = per_iteration.clone().detach().clamp_min(1e-6);
            let weights = constant.clone().mean().div(constant);
            (per_iteration * weights).mean()
        }
    }
}

/// Parameters and multiply-accumulates per image pixel of one iteration.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct IterationCost {
    /// Encoder + binarizer (+ gain network) parameters.
    pub encoder_params: usize,
    /// Decoder parameters.
    pub decoder_params: usize,
    /// Encoder MACs per pixel per iteration.
    pub encoder_macs_per_pixel: f64,
    /// Decoder MACs per pixel per iteration (what a browser pays per iteration).
    pub decoder_macs_per_pixel: f64,
}

/// The cost of one iteration of `cfg` (convolutions and cell gates; element-wise work
/// not counted).
pub fn iteration_cost(cfg: &RecurrentConfig) -> IterationCost {
    let g = gates(cfg.cell);
    let [e0, e1, e2] = cfg.encoder_states;
    let d = cfg.decoder_states;
    let conv = |i: usize, o: usize, k: usize| (i * o * k * k + o, i * o * k * k);
    let mut enc = vec![conv(3, cfg.encoder_head, 3)];
    let mut enc_scale = vec![1.0 / 4.0];
    for (k, (i, o)) in [(cfg.encoder_head, e0), (e0, e1), (e1, e2)]
        .into_iter()
        .enumerate()
    {
        enc.push((cell_params(g, i, o), cell_macs(g, i, o)));
        enc_scale.push(1.0 / 4f64.powi(k as i32 + 2));
    }
    enc.push(conv(e2, cfg.bits, 1));
    enc_scale.push(1.0 / 256.0);
    if cfg.mode == ReconstructionMode::ResidualScaling {
        enc.push(conv(3, 16, 3));
        enc_scale.push(1.0 / 4.0);
        enc.push(conv(16, 1, 3));
        enc_scale.push(1.0 / 16.0);
    }
    let mut dec = vec![conv(cfg.bits, cfg.decoder_head, 1)];
    let mut dec_scale = vec![1.0 / 256.0];
    for (k, (i, o)) in [
        (cfg.decoder_head, d[0]),
        (d[0] / 4, d[1]),
        (d[1] / 4, d[2]),
        (d[2] / 4, d[3]),
    ]
    .into_iter()
    .enumerate()
    {
        dec.push((cell_params(g, i, o), cell_macs(g, i, o)));
        dec_scale.push(1.0 / 4f64.powi(4 - k as i32));
    }
    dec.push(conv(d[3] / 4, 3, 1));
    dec_scale.push(1.0);
    let sum = |v: &[(usize, usize)], s: &[f64]| {
        (
            v.iter().map(|p| p.0).sum::<usize>(),
            v.iter().zip(s).map(|(p, s)| p.1 as f64 * s).sum::<f64>(),
        )
    };
    let (ep, em) = sum(&enc, &enc_scale);
    let (dp, dm) = sum(&dec, &dec_scale);
    IterationCost {
        encoder_params: ep,
        decoder_params: dp,
        encoder_macs_per_pixel: em,
        decoder_macs_per_pixel: dm,
    }
}
