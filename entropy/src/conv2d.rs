//! A fixed-point 2D convolution (kernel 1×1 or 3×3, zero padding, stride 1) evaluated at
//! single positions of a channel-last plane.

use crate::EntropyError;
use crate::fixed::{check_layer_params, round_shift};
use crate::reader::Reader;

/// Largest input or output width of an [`IntConv2d`].
pub const MAX_CONV_CHANNELS: usize = 1 << 12;

/// A 2D convolution in fixed point (see [`crate::fixed`]).
///
/// Weights are laid out `[c_out][k·k][c_in]` (taps in kernel raster order), the real
/// weight is `w / 2^shifts[o]`, biases are in accumulator scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntConv2d {
    c_in: usize,
    c_out: usize,
    kernel: usize,
    weights: Vec<i16>,
    shifts: Vec<u8>,
    bias: Vec<i64>,
}

impl IntConv2d {
    /// A layer from its integer parameters (`kernel` is 1 or 3).
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidModel`] on inconsistent sizes or out-of-range values.
    pub fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        weights: Vec<i16>,
        shifts: Vec<u8>,
        bias: Vec<i64>,
    ) -> Result<Self, EntropyError> {
        if !(1..=MAX_CONV_CHANNELS).contains(&c_in) || !(1..=MAX_CONV_CHANNELS).contains(&c_out) {
            return Err(EntropyError::InvalidModel(
                "conv width out of range".to_string(),
            ));
        }
        if kernel != 1 && kernel != 3 {
            return Err(EntropyError::InvalidModel(
                "conv kernel must be 1 or 3".to_string(),
            ));
        }
        check_layer_params(
            c_out * kernel * kernel * c_in,
            c_out,
            &weights,
            &shifts,
            &bias,
        )?;
        Ok(Self {
            c_in,
            c_out,
            kernel,
            weights,
            shifts,
            bias,
        })
    }

    /// Input channels.
    pub fn c_in(&self) -> usize {
        self.c_in
    }
    /// Output channels.
    pub fn c_out(&self) -> usize {
        self.c_out
    }
    /// Kernel size (1 or 3).
    pub fn kernel(&self) -> usize {
        self.kernel
    }

    /// Output (`c_out` Q12 values into `dst`) at `(y, x)` of a channel-last input
    /// plane `src` = `[h][w][c_in]`; out-of-plane taps read zero.
    #[inline]
    pub fn forward_at(&self, src: &[i32], h: usize, w: usize, y: usize, x: usize, dst: &mut [i32]) {
        let (k, c_in) = (self.kernel, self.c_in);
        let half = k / 2;
        let per_out = k * k * c_in;
        for (o, out) in dst.iter_mut().enumerate().take(self.c_out) {
            let wo = &self.weights[o * per_out..(o + 1) * per_out];
            let mut acc = self.bias[o];
            for ky in 0..k {
                let Some(yy) = (y + ky).checked_sub(half).filter(|&v| v < h) else {
                    continue;
                };
                for kx in 0..k {
                    let Some(xx) = (x + kx).checked_sub(half).filter(|&v| v < w) else {
                        continue;
                    };
                    let t = ky * k + kx;
                    let wv = &wo[t * c_in..(t + 1) * c_in];
                    let base = (yy * w + xx) * c_in;
                    acc += wv
                        .iter()
                        .zip(&src[base..base + c_in])
                        .map(|(&w, &a)| i64::from(w) * i64::from(a))
                        .sum::<i64>();
                }
            }
            *out = round_shift(acc, self.shifts[o]);
        }
    }

    /// Appends `c_in: u16, c_out: u16, kernel: u8, shifts, bias: [i64], weights: [i16]`.
    pub(crate) fn write(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(&(self.c_in as u16).to_le_bytes());
        b.extend_from_slice(&(self.c_out as u16).to_le_bytes());
        b.push(self.kernel as u8);
        b.extend_from_slice(&self.shifts);
        for x in &self.bias {
            b.extend_from_slice(&x.to_le_bytes());
        }
        for x in &self.weights {
            b.extend_from_slice(&x.to_le_bytes());
        }
    }

    /// Inverse of [`IntConv2d::write`]; the shape read must equal `(c_in, c_out, kernel)`.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        c_in: usize,
        c_out: usize,
        kernel: usize,
    ) -> Result<Self, EntropyError> {
        let shape = (
            usize::from(r.u16()?),
            usize::from(r.u16()?),
            usize::from(r.u8()?),
        );
        if shape != (c_in, c_out, kernel) {
            return Err(EntropyError::Malformed(
                "conv shape does not match the model",
            ));
        }
        let shifts = r.take(c_out)?.to_vec();
        let bias = r.i64s(c_out)?;
        let weights = r.i16s(c_out * kernel * kernel * c_in)?;
        Self::new(c_in, c_out, kernel, weights, shifts, bias)
    }
}
