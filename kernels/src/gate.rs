//! Channel attention's gate: small linear layers on the pooled means, then a sigmoid or
//! a softmax over channels; and the residual block's gated sum.

use crate::maps::Maps;

/// The gate's last non-linearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateOutput {
    /// `1 / (1 + e^{−x})` per channel.
    Sigmoid,
    /// Softmax over the channels.
    Softmax,
}

/// Linear layers (ReLU between them) from per-channel means to per-channel gates.
#[derive(Debug, Clone)]
pub struct Gate {
    /// `(weight [d_in, d_out] row-major, bias [d_out])` per layer.
    layers: Vec<(Vec<f32>, Vec<f32>)>,
    output: GateOutput,
}

impl Gate {
    /// A gate without layers yet.
    pub fn new(output: GateOutput) -> Self {
        Self {
            layers: Vec::new(),
            output,
        }
    }

    /// Appends a linear layer `y = x · W + b` (`weight` `[d_in, d_out]` row-major as Burn
    /// stores it; `bias` `[d_out]`, `None`: zeros).
    ///
    /// # Panics
    /// If `weight.len() != d_in · d_out` or the bias is not `d_out` long.
    pub fn push_layer(
        &mut self,
        weight: Vec<f32>,
        bias: Option<Vec<f32>>,
        d_in: usize,
        d_out: usize,
    ) {
        assert_eq!(weight.len(), d_in * d_out, "linear {d_in}→{d_out}");
        let bias = bias.unwrap_or_else(|| vec![0.0; d_out]);
        assert_eq!(bias.len(), d_out, "bias of a linear {d_in}→{d_out}");
        self.layers.push((weight, bias));
    }

    /// The gates of channels whose means are `means`.
    pub fn of(&self, means: &[f32]) -> Vec<f32> {
        let mut x = means.to_vec();
        let last = self.layers.len().saturating_sub(1);
        for (l, (weight, bias)) in self.layers.iter().enumerate() {
            let mut y = bias.clone();
            for (xi, row) in x.iter().zip(weight.chunks_exact(bias.len().max(1))) {
                for (yo, wio) in y.iter_mut().zip(row) {
                    *yo += xi * wio;
                }
            }
            if l < last {
                y.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            x = y;
        }
        match self.output {
            GateOutput::Sigmoid => x.iter().map(|&v| 1.0 / (1.0 + libm::expf(-v))).collect(),
            GateOutput::Softmax => {
                let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = x.iter().map(|&v| libm::expf(v - max)).collect();
                let sum: f32 = e.iter().sum();
                e.iter().map(|v| v / sum).collect()
            }
        }
    }
}

/// A residual block's end, in place: `y ← x + (y · gate) · scale` per channel (`gate`
/// `None`: no attention).
///
/// # Panics
/// If `x` and `y` differ in shape.
pub fn gated_residual(x: &Maps, y: &mut Maps, gate: Option<&[f32]>, scale: f32) {
    assert_eq!(
        (x.height, x.width, x.channels),
        (y.height, y.width, y.channels)
    );
    let c = y.channels.max(1);
    match gate {
        Some(g) => {
            for (yv, xv) in y.data.chunks_exact_mut(c).zip(x.data.chunks_exact(c)) {
                for ((v, xi), gi) in yv.iter_mut().zip(xv).zip(g) {
                    *v = xi + (*v * gi) * scale;
                }
            }
        }
        None => {
            for (v, xi) in y.data.iter_mut().zip(&x.data) {
                *v = xi + *v * scale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_layers_and_outputs() {
        // 2 → 1 → 2: hidden = relu(m0 − m1), out = (hidden, −hidden) + (0, 1).
        let mut g = Gate::new(GateOutput::Sigmoid);
        g.push_layer(vec![1.0, -1.0], None, 2, 1);
        g.push_layer(vec![1.0, -1.0], Some(vec![0.0, 1.0]), 1, 2);
        let s = g.of(&[3.0, 1.0]);
        let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
        assert!((s[0] - sig(2.0)).abs() < 1e-6 && (s[1] - sig(-1.0)).abs() < 1e-6);
        g.output = GateOutput::Softmax;
        let s = g.of(&[1.0, 3.0]); // hidden relu(−2) = 0 → (0, 1)
        let e = 1f32.exp();
        assert!((s[0] - 1.0 / (1.0 + e)).abs() < 1e-6 && (s[1] - e / (1.0 + e)).abs() < 1e-6);
    }

    #[test]
    fn gated_residual_adds_the_scaled_gated_branch() {
        let x = Maps::from_planes(&[1.0, 2.0, 3.0, 4.0], 2, 1, 2);
        let mut y = Maps::from_planes(&[10.0, 20.0, 30.0, 40.0], 2, 1, 2);
        gated_residual(&x, &mut y, Some(&[0.5, 0.25]), 2.0);
        assert_eq!(y.to_planes(), vec![11.0, 22.0, 18.0, 24.0]);
        gated_residual(&x, &mut y, None, 1.0);
        assert_eq!(y.to_planes(), vec![12.0, 24.0, 21.0, 28.0]);
    }
}
