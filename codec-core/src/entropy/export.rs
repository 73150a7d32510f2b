//! Float ([`ContextModel3d`]) → integer ([`IntContextModel3d`]) export.

use burn::tensor::backend::Backend;

use super::EntropyError;
use super::fixed::{ACT_FRAC, BIAS_MAX, MAX_WEIGHT_SHIFT, WEIGHT_MAX, quantize_act};
use super::int_context3d::{IntContextModel3d, IntMaskedConv3d, MaskKind};
use crate::model::context3d::{ContextModel3d, MaskedConv3d};

/// Quantizes a trained float context model and its quantizer means `μ` (one per
/// level) into the integer model.
///
/// Per output channel `o`, the shift is the largest `s ≤ 30` with
/// `round(max_i |w_o,i| · 2^s) ≤ 32767`; weights become `round(w · 2^s)`, biases
/// `round(b · 2^(12 + s))` (round half away from zero, in `f64`, which is exact
/// for the power-of-two scaling), and the means `round(μ · 2^12)`. The result
/// depends only on the float weights.
///
/// # Errors
///
/// [`EntropyError::InvalidModel`] if `level_means.len()` differs from the model's
/// number of levels, a parameter is not finite, or shapes are out of range.
pub fn export_context_model<B: Backend>(
    model: &ContextModel3d<B>,
    level_means: &[f32],
) -> Result<IntContextModel3d, EntropyError> {
    let kinds = [
        MaskKind::Hollow,
        MaskKind::Solid,
        MaskKind::Solid,
        MaskKind::Solid,
    ];
    let mut layers = Vec::with_capacity(4);
    for (layer, kind) in model.layers().into_iter().zip(kinds) {
        layers.push(export_layer(layer, kind)?);
    }
    let features = layers[0].c_out();
    let levels = layers[3].c_out();
    if level_means.len() != levels {
        return Err(EntropyError::InvalidModel(format!(
            "{} level means for a model with {levels} levels",
            level_means.len()
        )));
    }
    if level_means.iter().any(|m| !m.is_finite()) {
        return Err(EntropyError::InvalidModel("non-finite level mean".into()));
    }
    let level_values = level_means
        .iter()
        .map(|&m| quantize_act(f64::from(m)))
        .collect();
    let layers: [IntMaskedConv3d; 4] = layers
        .try_into()
        .map_err(|_| EntropyError::InvalidModel("expected four layers".into()))?;
    IntContextModel3d::new(levels, features, layers, level_values)
}

fn to_f32_vec(data: burn::tensor::TensorData) -> Result<Vec<f32>, EntropyError> {
    data.convert::<f32>()
        .into_vec::<f32>()
        .map_err(|e| EntropyError::InvalidModel(format!("reading float weights: {e:?}")))
}

fn export_layer<B: Backend>(
    layer: &MaskedConv3d<B>,
    kind: MaskKind,
) -> Result<IntMaskedConv3d, EntropyError> {
    let weight = layer.masked_weight();
    let [c_out, c_in, kd, kh, kw] = weight.dims();
    if [kd, kh, kw] != [3, 3, 3] {
        return Err(EntropyError::InvalidModel("kernel is not 3×3×3".into()));
    }
    let w = to_f32_vec(weight.into_data())?;
    let bias = match layer.bias() {
        Some(b) => to_f32_vec(b.into_data())?,
        None => vec![0.0; c_out],
    };
    if bias.len() != c_out || w.iter().chain(&bias).any(|v| !v.is_finite()) {
        return Err(EntropyError::InvalidModel(
            "bias shape or non-finite parameter".into(),
        ));
    }
    let taps = kind.taps();
    let mut weights = Vec::with_capacity(c_out * taps * c_in);
    let mut shifts = Vec::with_capacity(c_out);
    let mut qbias = Vec::with_capacity(c_out);
    for o in 0..c_out {
        let at = |i: usize, t: usize| f64::from(w[(o * c_in + i) * 27 + t]);
        let max = (0..c_in)
            .flat_map(|i| (0..taps).map(move |t| (i, t)))
            .map(|(i, t)| at(i, t).abs())
            .fold(0.0f64, f64::max);
        let mut shift = MAX_WEIGHT_SHIFT;
        while shift > 0 && libm::round(max * pow2(shift)) > f64::from(WEIGHT_MAX) {
            shift -= 1;
        }
        let scale = pow2(shift);
        for t in 0..taps {
            for i in 0..c_in {
                let q = libm::round(at(i, t) * scale)
                    .clamp(-f64::from(WEIGHT_MAX), f64::from(WEIGHT_MAX));
                weights.push(q as i16);
            }
        }
        let b = libm::round(f64::from(bias[o]) * pow2(shift + ACT_FRAC as u8))
            .clamp(-(BIAS_MAX as f64), BIAS_MAX as f64);
        shifts.push(shift);
        qbias.push(b as i64);
    }
    IntMaskedConv3d::new(kind, c_in, c_out, weights, shifts, qbias)
}

fn pow2(e: u8) -> f64 {
    (1u64 << e) as f64
}
