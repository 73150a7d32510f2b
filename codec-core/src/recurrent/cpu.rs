//! The recurrent decoder on the CPU with channels-last kernels ([`cvq_kernels`]): the
//! same networks as [`RecurrentCodec::decode_step`](super::RecurrentCodec::decode_step)
//! — their weights, read once — without Burn. Each cell is two products (the 3×3 input
//! convolution added onto the 1×1 hidden-state convolution) and one pass over the gates
//! per position, where Burn's Flex backend spends most of a decode in separate
//! element-wise passes and their allocations. The gates' sigmoid and tanh are built on
//! [`cvq_fastmath::exp`] (plain `f32` arithmetic), the output's tanh is `libm::tanhf`, so
//! the pixels are the same on every target; products are summed in another order than
//! Burn's, so they may differ from the Burn path's by ±1 where float rounding tips them.
//!
//! Shapes (channels-last [`Maps`], one image): codes `H/16 × W/16 × bits` → head →
//! `H/16 × W/16 × decoder_head` → cells with depth-to-space ×2 after each →
//! `H × W × decoder_states[3]/4` → tail, `tanh / 2` → `H × W × 3`.

use cvq_fastmath::{exp, sigmoid};
use cvq_kernels::{Activation, Conv1x1, Conv3x3, Maps, in_parallel};

use super::config::{CellKind, ReconstructionMode};

/// One convolutional recurrent cell's kernels (the input convolution's stride 1 in the
/// decoder, 2 in the encoder).
#[derive(Debug, Clone)]
pub struct CpuCell {
    pub(crate) input: Conv3x3,
    pub(crate) hidden_conv: Conv1x1,
    pub(crate) kind: CellKind,
    pub(crate) hidden: usize,
    pub(crate) stride: usize,
}

/// A cell's state between iterations: `h` (`h × w × hidden`) and the LSTM's `c`.
#[derive(Debug, Clone)]
pub struct CpuCellState {
    h: Maps,
    c: Option<Maps>,
}

/// The gates' `tanh(x)` as `(e − 1) / (e + 1)`, `e = exp(2x)`: within 2e-7 of
/// `libm::tanhf` in absolute terms (tested); `|x|` is capped at 15, where `tanh` is ±1 in
/// `f32`. Not [`cvq_fastmath::tanh`] (more accurate near 0, relatively): the golden
/// files' pixels were decoded with this one, and the two differ by a few ulp.
fn tanh(x: f32) -> f32 {
    let e = exp(2.0 * x.clamp(-15.0, 15.0));
    (e - 1.0) / (e + 1.0)
}

/// Positions per part when `positions` are split among `threads` (at least 1).
fn per_part(positions: usize, threads: usize) -> usize {
    positions.div_ceil(threads.max(1)).max(1)
}

/// The cells' states between iterations, one per cell (empty before the first): the
/// encoder's and the decoder's.
pub type CpuCellStates = Vec<Option<CpuCellState>>;

/// `x` through `cells` in order, each from its state in `states` (replaced by the new
/// one); `between` maps a cell's new `h` to the next cell's input (the decoder's
/// depth-to-space, the encoder's identity). Returns the last cell's mapped output.
fn run_cells(
    cells: &[CpuCell],
    mut x: Maps,
    states: &mut CpuCellStates,
    threads: usize,
    between: impl Fn(&Maps) -> Maps,
) -> Maps {
    states.resize(cells.len(), None);
    for (cell, s) in cells.iter().zip(states.iter_mut()) {
        let next = cell.forward(&x, s.take(), threads);
        x = between(&next.h);
        *s = Some(next);
    }
    x
}

impl CpuCell {
    /// One step on `x` (`h × w × c_in`) from `prev` (`None`: the zero state): the state
    /// at `⌈h/s⌉ × ⌈w/s⌉` for the input convolution's stride `s`.
    fn forward(&self, x: &Maps, prev: Option<CpuCellState>, threads: usize) -> CpuCellState {
        let (h, w) = (
            x.height.div_ceil(self.stride),
            x.width.div_ceil(self.stride),
        );
        let n = self.hidden;
        let prev = prev.unwrap_or_else(|| CpuCellState {
            h: Maps::zeros(h, w, n),
            c: (self.kind == CellKind::Lstm).then(|| Maps::zeros(h, w, n)),
        });
        let hh = self
            .hidden_conv
            .forward(&prev.h, None, Activation::Identity, threads);
        match self.kind {
            CellKind::Lstm => {
                // gates [i | f | o | g] per position, each `n` wide
                let gates = self
                    .input
                    .forward(x, Some(&hh), Activation::Identity, threads);
                let mut c = prev.c.unwrap_or_else(|| Maps::zeros(h, w, n));
                let mut out = Maps::zeros(h, w, n);
                let per = per_part(h * w, threads);
                let parts: Vec<_> = gates
                    .data
                    .chunks(per * 4 * n)
                    .zip(c.data.chunks_mut(per * n))
                    .zip(out.data.chunks_mut(per * n))
                    .collect();
                in_parallel(threads, parts, |((gates, c), out)| {
                    for ((g, c), o) in gates
                        .chunks_exact(4 * n)
                        .zip(c.chunks_exact_mut(n))
                        .zip(out.chunks_exact_mut(n))
                    {
                        let (i, rest) = g.split_at(n);
                        let (f, rest) = rest.split_at(n);
                        let (og, cand) = rest.split_at(n);
                        for k in 0..n {
                            let ck = sigmoid(f[k]) * c[k] + sigmoid(i[k]) * tanh(cand[k]);
                            c[k] = ck;
                            o[k] = sigmoid(og[k]) * tanh(ck);
                        }
                    }
                });
                CpuCellState { h: out, c: Some(c) }
            }
            CellKind::Gru => {
                // [r | z | n] of the input and of the hidden state, each `n` wide
                let xi = self.input.forward(x, None, Activation::Identity, threads);
                let mut out = Maps::zeros(h, w, n);
                let per = per_part(h * w, threads);
                let parts: Vec<_> = xi
                    .data
                    .chunks(per * 3 * n)
                    .zip(hh.data.chunks(per * 3 * n))
                    .zip(prev.h.data.chunks(per * n))
                    .zip(out.data.chunks_mut(per * n))
                    .collect();
                in_parallel(threads, parts, |(((xi, hh), prev), out)| {
                    for (((xg, hg), prev), o) in xi
                        .chunks_exact(3 * n)
                        .zip(hh.chunks_exact(3 * n))
                        .zip(prev.chunks_exact(n))
                        .zip(out.chunks_exact_mut(n))
                    {
                        for k in 0..n {
                            let r = sigmoid(xg[k] + hg[k]);
                            let z = sigmoid(xg[n + k] + hg[n + k]);
                            let cand = tanh(xg[2 * n + k] + r * hg[2 * n + k]);
                            o[k] = (1.0 - z) * cand + z * prev[k];
                        }
                    }
                });
                CpuCellState { h: out, c: None }
            }
        }
    }
}

/// The recurrent encoder's kernels with the deterministic binarizer (additive and
/// one-shot reconstruction; the residual-scaling mode keeps the Burn path).
#[derive(Debug, Clone)]
pub struct CpuRecurrentEncoder {
    pub(crate) head: Conv3x3,
    pub(crate) cells: Vec<CpuCell>,
    pub(crate) binarizer: Conv1x1,
    pub(crate) threads: usize,
}

impl CpuRecurrentEncoder {
    /// The encoder and binarizer on one residual (`H × W × 3`, `H`, `W` multiples of
    /// 16): the codes `H/16 × W/16 × bits`, ±1: the sign of the binarizer's output
    /// (0 → +1; `tanh` keeps the sign, so it is not computed).
    pub fn encode_step(&self, residual: &Maps, states: &mut CpuCellStates) -> Maps {
        let head = self
            .head
            .forward(residual, None, Activation::Identity, self.threads);
        let x = run_cells(&self.cells, head, states, self.threads, Maps::clone);
        let mut codes = self
            .binarizer
            .forward(&x, None, Activation::Identity, self.threads);
        for v in &mut codes.data {
            *v = if *v >= 0.0 { 1.0 } else { -1.0 };
        }
        codes
    }
}

/// The recurrent decoder's kernels (additive and one-shot reconstruction; the
/// residual-scaling mode's gain network keeps the Burn path).
#[derive(Debug, Clone)]
pub struct CpuRecurrentDecoder {
    pub(crate) head: Conv1x1,
    pub(crate) cells: Vec<CpuCell>,
    pub(crate) tail: Conv1x1,
    pub(crate) mode: ReconstructionMode,
    pub(crate) threads: usize,
}

impl CpuRecurrentDecoder {
    /// The decoder on one iteration's codes (`H/16 × W/16 × bits`, ±1): its output
    /// `H × W × 3`, within ±0.5.
    pub fn decode_step(&self, codes: &Maps, states: &mut CpuCellStates) -> Maps {
        let head = self
            .head
            .forward(codes, None, Activation::Identity, self.threads);
        let x = run_cells(&self.cells, head, states, self.threads, Maps::pixel_shuffle);
        let mut out = self
            .tail
            .forward(&x, None, Activation::Identity, self.threads);
        out.data.iter_mut().for_each(|v| *v = libm::tanhf(*v) * 0.5);
        out
    }

    /// The next reconstruction (`H × W × 3`, values ≈ `0..1`) from one iteration's codes.
    pub fn decode_iteration(&self, codes: &Maps, recon: &mut Maps, state: &mut CpuCellStates) {
        let out = self.decode_step(codes, state);
        match self.mode {
            ReconstructionMode::OneShot => {
                for (r, o) in recon.data.iter_mut().zip(&out.data) {
                    *r = o + 0.5;
                }
            }
            ReconstructionMode::Additive | ReconstructionMode::ResidualScaling => {
                for (r, o) in recon.data.iter_mut().zip(&out.data) {
                    *r += o;
                }
            }
        }
    }

    /// The reconstruction before any iteration: mid grey, `h × w × 3` of 0.5.
    pub fn initial_reconstruction(height: usize, width: usize) -> Maps {
        let mut m = Maps::zeros(height, width, 3);
        m.data.fill(0.5);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gates_tanh_agrees_with_libm() {
        let mut worst = 0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 4.35e-4; // −87 … 87
            worst = worst.max((f64::from(tanh(x)) - f64::from(libm::tanhf(x))).abs());
        }
        assert!(worst < 2e-7, "tanh: {worst}");
        assert_eq!((tanh(100.0), tanh(-100.0)), (1.0, -1.0));
    }
}
