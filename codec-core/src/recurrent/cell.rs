//! Convolutional recurrent cells (ConvLSTM, ConvGRU): a 3×3 input convolution (stride 1
//! or 2) and a 1×1 hidden-state convolution produce the gates.

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Tensor, activation, backend::Backend};

use super::config::CellKind;

/// The state a cell carries between iterations: `h` `[B, C, h, w]`, and the LSTM's cell
/// state `c` (same shape; `None` for a GRU).
#[derive(Debug, Clone)]
pub struct CellState<B: Backend> {
    /// Hidden state (the cell's output).
    pub h: Tensor<B, 4>,
    /// LSTM cell state.
    pub c: Option<Tensor<B, 4>>,
}

/// A convolutional recurrent cell: `[B, c_in, H, W]` and a state at `H/s × W/s` →
/// the next state `[B, hidden, H/s, W/s]`.
#[derive(Module, Debug)]
pub struct ConvRnnCell<B: Backend> {
    input: Conv2d<B>,
    hidden_conv: Conv2d<B>,
    kind: CellKind,
    hidden: usize,
    stride: usize,
}

/// Gates per hidden channel: 4 for an LSTM (input, forget, output, candidate), 3 for a
/// GRU (reset, update, candidate).
pub fn gates(kind: CellKind) -> usize {
    match kind {
        CellKind::Lstm => 4,
        CellKind::Gru => 3,
    }
}

impl<B: Backend> ConvRnnCell<B> {
    /// A cell from `c_in` to `hidden` channels whose input convolution has `stride`.
    pub fn new(
        kind: CellKind,
        c_in: usize,
        hidden: usize,
        stride: usize,
        device: &B::Device,
    ) -> Self {
        let g = gates(kind);
        Self {
            input: Conv2dConfig::new([c_in, g * hidden], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            hidden_conv: Conv2dConfig::new([hidden, g * hidden], [1, 1]).init(device),
            kind,
            hidden,
            stride,
        }
    }

    /// The zero state for an input of `height × width` pixels (at this cell's input).
    pub fn zero_state(
        &self,
        batch: usize,
        height: usize,
        width: usize,
        device: &B::Device,
    ) -> CellState<B> {
        let shape = [
            batch,
            self.hidden,
            height / self.stride,
            width / self.stride,
        ];
        CellState {
            h: Tensor::zeros(shape, device),
            c: (self.kind == CellKind::Lstm).then(|| Tensor::zeros(shape, device)),
        }
    }

    /// One step.
    pub fn forward(&self, x: Tensor<B, 4>, state: CellState<B>) -> CellState<B> {
        let n = self.hidden;
        let xi = self.input.forward(x);
        let hh = self.hidden_conv.forward(state.h.clone());
        match self.kind {
            CellKind::Lstm => {
                let [i, f, o, g] = (xi + hh).chunk(4, 1).try_into().expect("4 gates");
                let c = activation::sigmoid(f) * state.c.expect("LSTM state has c")
                    + activation::sigmoid(i) * g.tanh();
                let h = activation::sigmoid(o) * c.clone().tanh();
                CellState { h, c: Some(c) }
            }
            CellKind::Gru => {
                let [xr, xz, xn] = xi.chunk(3, 1).try_into().expect("3 gates");
                let [hr, hz, hn] = hh.chunk(3, 1).try_into().expect("3 gates");
                let r = activation::sigmoid(xr + hr);
                let z = activation::sigmoid(xz + hz);
                let cand = (xn + r * hn).tanh();
                let h = z.clone().neg().add_scalar(1.0) * cand + z * state.h;
                debug_assert_eq!(h.dims()[1], n);
                CellState { h, c: None }
            }
        }
    }
}

impl<B: Backend> ConvRnnCell<B> {
    /// `wider` (a cell of the same kind, input and stride with at least as many hidden
    /// channels) carrying this cell's weights in the first `hidden` units of each gate:
    /// the old units compute exactly what they did (the new units' state reaches them
    /// through zero weights), the new units keep `wider`'s fresh weights.
    ///
    /// # Panics
    ///
    /// If `wider` does not fit (kind, input channels, stride, fewer hidden channels).
    pub fn widened_into(&self, wider: Self) -> Self {
        let c_in = self.input.weight.dims()[1];
        assert!(
            wider.kind == self.kind
                && wider.stride == self.stride
                && wider.input.weight.dims()[1] == c_in
                && wider.hidden >= self.hidden,
            "a wider cell of the same kind, input and stride"
        );
        let (n, m, g) = (self.hidden, wider.hidden, gates(self.kind));
        let rows = |k: usize, width: usize| k * width..k * width + n;
        // Gate rows of the old units take the old rows; the rest stays fresh.
        let copy_rows4 = |old: Tensor<B, 4>, new: Tensor<B, 4>, cols: usize| {
            let [_, _, kh, kw] = new.dims();
            (0..g).fold(new, |acc, k| {
                acc.slice_assign(
                    [rows(k, m), 0..cols, 0..kh, 0..kw],
                    old.clone().slice([rows(k, n), 0..cols, 0..kh, 0..kw]),
                )
            })
        };
        let copy_rows1 = |old: Tensor<B, 1>, new: Tensor<B, 1>| {
            (0..g).fold(new, |acc, k| {
                acc.slice_assign([rows(k, m)], old.clone().slice([rows(k, n)]))
            })
        };
        let widen_bias = |old: &Option<Param<Tensor<B, 1>>>, new: Option<Param<Tensor<B, 1>>>| {
            match (old, new) {
                (Some(old), Some(new)) => {
                    let old = old.val();
                    Some(new.map(|b| copy_rows1(old, b)))
                }
                (_, new) => new,
            }
        };
        let mut out = wider;
        let old_in = self.input.weight.val();
        out.input.weight = out.input.weight.map(|w| copy_rows4(old_in, w, c_in));
        let old_hidden = self.hidden_conv.weight.val();
        out.hidden_conv.weight = out.hidden_conv.weight.map(|w| {
            // old units: old weights from the old units, zero from the new ones
            let [_, _, kh, kw] = w.dims();
            let zeros = Tensor::<B, 4>::zeros([n, m - n, kh, kw], &w.device());
            let zero_cols = (0..g).fold(w, |acc, k| {
                acc.slice_assign([rows(k, m), n..m, 0..kh, 0..kw], zeros.clone())
            });
            copy_rows4(old_hidden, zero_cols, n)
        });
        out.input.bias = widen_bias(&self.input.bias, out.input.bias.take());
        out.hidden_conv.bias = widen_bias(&self.hidden_conv.bias, out.hidden_conv.bias.take());
        out
    }
}

impl<B: Backend> ConvRnnCell<B> {
    /// The cell's channels-last CPU kernels (`None` for weights the backend cannot
    /// read).
    pub(crate) fn cpu_kernels(&self) -> Option<super::cpu::CpuCell> {
        Some(super::cpu::CpuCell {
            input: crate::model::layers::conv::conv3x3_kernel(&self.input)?,
            hidden_conv: crate::model::layers::conv::conv1x1_kernel(&self.hidden_conv)?,
            kind: self.kind,
            hidden: self.hidden,
            stride: self.stride,
        })
    }
}

/// Parameters of a cell.
pub const fn cell_params(kind_gates: usize, c_in: usize, hidden: usize) -> usize {
    let g = kind_gates * hidden;
    c_in * g * 9 + g + hidden * g + g
}

/// Multiply-accumulates per position of the cell's output.
pub const fn cell_macs(kind_gates: usize, c_in: usize, hidden: usize) -> usize {
    let g = kind_gates * hidden;
    c_in * g * 9 + hidden * g
}
