//! Fixed-point conventions of the integer context model.
//!
//! * **Activations** (inputs, hidden features, logits) are `i32` in Q[`ACT_FRAC`]
//!   (value = `a / 2^12`), saturated to `±`[`ACT_MAX`] after every layer.
//! * **Weights** are `i16` with a per-output-channel power-of-two scale: the real
//!   weight is `w / 2^shift`, `shift ∈ 0..=`[`MAX_WEIGHT_SHIFT`].
//! * **Biases** are `i64` already in the accumulator scale Q(`ACT_FRAC + shift`).
//! * **Accumulation** is exact in `i64`; requantisation back to Q[`ACT_FRAC`] is
//!   [`round_shift`]: `(acc + 2^(shift−1)) >> shift` with an arithmetic shift, i.e.
//!   round half towards +∞ — exact, platform independent integer arithmetic.
//! * **Logits → weights**: `d = max_logit − logit ≥ 0` (Q12) is rounded to
//!   Q[`EXP_INDEX_FRAC`] (1/256 nat) and looked up in [`ExpTable`]
//!   (`round(2^24 · e^(−i/256))`, built with `libm`, which is bit-identical on every
//!   target). Entries past the table are 0; [`cvq_bitstream::coder::IntCdf`] then
//!   gives every symbol at least frequency 1.
//!
//! Overflow bounds: `|a| ≤ 2^26`, `|w| < 2^15`, at most `14 · 1024` products per
//! accumulator ⇒ `|Σ| < 2^55`; `|bias| ≤ 2^56`; total `< 2^57` ⊂ `i64`.

use crate::EntropyError;

/// Fractional bits of activations.
pub const ACT_FRAC: u32 = 12;
/// Saturation bound of activations (`2^26`, i.e. ±16384.0).
pub const ACT_MAX: i32 = 1 << 26;
/// Largest weight magnitude (`i16`).
pub const WEIGHT_MAX: i32 = i16::MAX as i32;
/// Largest per-channel weight shift.
pub const MAX_WEIGHT_SHIFT: u8 = 30;
/// Saturation bound of biases (in accumulator scale).
pub const BIAS_MAX: i64 = 1 << 56;
/// Fractional bits of the exp-table index (table step = 1/256 nat).
pub const EXP_INDEX_FRAC: u32 = 8;
/// Fractional bits of the exp-table entries (`e^0 = 2^24`).
pub const EXP_ONE_BITS: u32 = 24;
/// Number of exp-table entries: `e^(−x)·2^24 < 0.5` for `x ≥ 17.33`, so 18 nats suffice.
pub const EXP_TABLE_LEN: usize = 18 << EXP_INDEX_FRAC;

/// `round(acc / 2^shift)`, ties towards +∞ (arithmetic shift), saturated to
/// `±ACT_MAX`.
#[inline]
pub fn round_shift(acc: i64, shift: u8) -> i32 {
    let v = if shift == 0 {
        acc
    } else {
        (acc + (1i64 << (shift - 1))) >> shift
    };
    v.clamp(-(ACT_MAX as i64), ACT_MAX as i64) as i32
}

/// Saturating add of two activations.
#[inline]
pub fn add_act(a: i32, b: i32) -> i32 {
    (a as i64 + b as i64).clamp(-(ACT_MAX as i64), ACT_MAX as i64) as i32
}

/// Quantizes a float to Q[`ACT_FRAC`] (round half away from zero, saturated;
/// NaN → 0). Only used at export time.
pub fn quantize_act(v: f64) -> i32 {
    let q = libm::round(v * (1u64 << ACT_FRAC) as f64);
    if q.is_nan() {
        0
    } else {
        q.clamp(-(ACT_MAX as f64), ACT_MAX as f64) as i32
    }
}

/// Table of `round(2^24 · e^(−i / 256))`, `i ∈ 0..EXP_TABLE_LEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpTable {
    table: Vec<u32>,
}

impl Default for ExpTable {
    fn default() -> Self {
        Self::new()
    }
}

impl ExpTable {
    /// Builds the table with `libm::exp` (bit-identical on every target).
    pub fn new() -> Self {
        let one = (1u64 << EXP_ONE_BITS) as f64;
        let step = (1u64 << EXP_INDEX_FRAC) as f64;
        let table = (0..EXP_TABLE_LEN)
            .map(|i| libm::round(one * libm::exp(-(i as f64) / step)) as u32)
            .collect();
        Self { table }
    }

    /// `≈ 2^24 · e^(−d / 2^ACT_FRAC)` for a logit difference `d ≥ 0` in Q12.
    #[inline]
    pub fn weight(&self, d: i64) -> u32 {
        let shift = ACT_FRAC - EXP_INDEX_FRAC;
        let idx = (d + (1i64 << (shift - 1))) >> shift;
        if (0..EXP_TABLE_LEN as i64).contains(&idx) {
            self.table[idx as usize]
        } else {
            0
        }
    }

    /// The raw table.
    pub fn entries(&self) -> &[u32] {
        &self.table
    }
}

/// Checks a layer's integer parameters: `weights.len() == n_weights`, one shift and one
/// bias per output channel, `|w| ≤ 32767`, `shift ≤ 30`, `|bias| ≤ 2^56`.
///
/// # Errors
///
/// [`EntropyError::InvalidModel`] naming the first violated rule.
pub fn check_layer_params(
    n_weights: usize,
    c_out: usize,
    weights: &[i16],
    shifts: &[u8],
    bias: &[i64],
) -> Result<(), EntropyError> {
    let bad = |m: &str| Err(EntropyError::InvalidModel(m.to_string()));
    if weights.len() != n_weights {
        return bad("weight count does not match the layer shape");
    }
    if shifts.len() != c_out || bias.len() != c_out {
        return bad("shift / bias count does not match c_out");
    }
    if weights.iter().any(|&w| i32::from(w).abs() > WEIGHT_MAX) {
        return bad("weight -32768 is not allowed");
    }
    if shifts.iter().any(|&s| s > MAX_WEIGHT_SHIFT) {
        return bad("weight shift above 30");
    }
    if bias.iter().any(|&b| !(-BIAS_MAX..=BIAS_MAX).contains(&b)) {
        return bad("bias out of range");
    }
    Ok(())
}

/// Integer parameters of one layer, as produced by [`quantize_layer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantizedLayer {
    /// `i16` weights, same layout as the float input.
    pub weights: Vec<i16>,
    /// Per-output-channel power-of-two shift.
    pub shifts: Vec<u8>,
    /// Biases in accumulator scale Q(`ACT_FRAC + shift`).
    pub bias: Vec<i64>,
}

/// Export-time quantization of a float layer whose weights are given as
/// `weights[o * per_out + i]` (any layout inside an output channel) and biases `[c_out]`.
///
/// Per output channel `o`, the shift is the largest `s ≤ 30` with
/// `round(max_i |w_o,i| · 2^s) ≤ 32767`; weights become `round(w · 2^s)`, biases
/// `round(b · 2^(12 + s))` (round half away from zero, in `f64`, exact for the
/// power-of-two scaling). The result depends only on the float values.
///
/// # Errors
///
/// [`EntropyError::InvalidModel`] on a length mismatch or a non-finite value.
pub fn quantize_layer(
    weights: &[f32],
    bias: &[f32],
    c_out: usize,
) -> Result<QuantizedLayer, EntropyError> {
    if c_out == 0 || bias.len() != c_out || !weights.len().is_multiple_of(c_out) {
        return Err(EntropyError::InvalidModel(
            "float layer shapes do not match c_out".into(),
        ));
    }
    if weights.iter().chain(bias).any(|v| !v.is_finite()) {
        return Err(EntropyError::InvalidModel("non-finite parameter".into()));
    }
    let per_out = weights.len() / c_out;
    let pow2 = |e: u8| (1u64 << e) as f64;
    let mut out = QuantizedLayer {
        weights: Vec::with_capacity(weights.len()),
        shifts: Vec::with_capacity(c_out),
        bias: Vec::with_capacity(c_out),
    };
    for (o, chunk) in weights.chunks_exact(per_out.max(1)).enumerate().take(c_out) {
        let max = chunk
            .iter()
            .map(|&w| f64::from(w).abs())
            .fold(0.0, f64::max);
        let mut shift = MAX_WEIGHT_SHIFT;
        while shift > 0 && libm::round(max * pow2(shift)) > f64::from(WEIGHT_MAX) {
            shift -= 1;
        }
        let scale = pow2(shift);
        out.weights.extend(chunk.iter().map(|&w| {
            libm::round(f64::from(w) * scale).clamp(-f64::from(WEIGHT_MAX), f64::from(WEIGHT_MAX))
                as i16
        }));
        let b = libm::round(f64::from(bias[o]) * pow2(shift + ACT_FRAC as u8))
            .clamp(-(BIAS_MAX as f64), BIAS_MAX as f64);
        out.shifts.push(shift);
        out.bias.push(b as i64);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_shift_rounds_half_up_and_saturates() {
        assert_eq!(round_shift(5, 1), 3);
        assert_eq!(round_shift(-5, 1), -2);
        assert_eq!(round_shift(-6, 1), -3);
        assert_eq!(round_shift(7, 0), 7);
        assert_eq!(round_shift(i64::MAX / 4, 3), ACT_MAX);
        assert_eq!(round_shift(i64::MIN / 4, 3), -ACT_MAX);
    }

    #[test]
    fn exp_table_endpoints() {
        let t = ExpTable::new();
        assert_eq!(t.entries()[0], 1 << 24);
        assert_eq!(*t.entries().last().unwrap(), 0);
        assert!(t.entries().windows(2).all(|w| w[0] >= w[1]));
        // e^-1 · 2^24 = 6171992.85
        assert_eq!(t.weight(1 << ACT_FRAC), 6_171_993);
        assert_eq!(t.weight(i64::MAX / 2), 0);
    }
}
