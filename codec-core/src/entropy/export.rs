//! Float (Burn) → integer ([`cvq_entropy`]) export of the entropy models. The
//! quantization rule is [`cvq_entropy::fixed::quantize_layer`]; the result depends
//! only on the float weights.

use burn::nn::conv::Conv2d;
use burn::tensor::backend::Backend;
use cvq_entropy::fixed::{QuantizedLayer, quantize_act, quantize_layer};
use cvq_entropy::{
    EntropyError, EntropyModel, GroupModel, IntContextModel3d, IntConv2d, IntMaskedConv3d,
    IntParallelGroupModel, MaskKind, ParallelLayers,
};

use crate::model::Cvqn;
use crate::model::context3d::{ContextModel3d, MaskedConv3d};
use crate::model::parallel::ParallelContextModel;

fn to_f32_vec(data: burn::tensor::TensorData) -> Result<Vec<f32>, EntropyError> {
    data.convert::<f32>()
        .into_vec::<f32>()
        .map_err(|e| EntropyError::InvalidModel(format!("reading float weights: {e:?}")))
}

fn level_values(level_means: &[f32], levels: usize) -> Result<Vec<i32>, EntropyError> {
    if level_means.len() != levels {
        return Err(EntropyError::InvalidModel(format!(
            "{} level means for a model with {levels} levels",
            level_means.len()
        )));
    }
    if level_means.iter().any(|m| !m.is_finite()) {
        return Err(EntropyError::InvalidModel("non-finite level mean".into()));
    }
    Ok(level_means
        .iter()
        .map(|&m| quantize_act(f64::from(m)))
        .collect())
}

/// Quantizes a trained float 3D context model and its quantizer means `μ` (one per
/// level) into the integer model.
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
        layers.push(export_masked_layer(layer, kind)?);
    }
    let features = layers[0].c_out();
    let levels = layers[3].c_out();
    let values = level_values(level_means, levels)?;
    let layers: [IntMaskedConv3d; 4] = layers
        .try_into()
        .map_err(|_| EntropyError::InvalidModel("expected four layers".into()))?;
    IntContextModel3d::new(levels, features, layers, values)
}

fn export_masked_layer<B: Backend>(
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
    // [c_out][c_in][27] → [c_out][taps][c_in], keeping the unmasked taps.
    let taps = kind.taps();
    let mut reordered = Vec::with_capacity(c_out * taps * c_in);
    for o in 0..c_out {
        for t in 0..taps {
            for i in 0..c_in {
                reordered.push(w[(o * c_in + i) * 27 + t]);
            }
        }
    }
    let QuantizedLayer {
        weights,
        shifts,
        bias,
    } = quantize_layer(&reordered, &bias, c_out)?;
    IntMaskedConv3d::new(kind, c_in, c_out, weights, shifts, bias)
}

fn export_conv2d<B: Backend>(conv: &Conv2d<B>) -> Result<IntConv2d, EntropyError> {
    let weight = conv.weight.val();
    let [c_out, c_in, kh, kw] = weight.dims();
    if kh != kw {
        return Err(EntropyError::InvalidModel("non-square kernel".into()));
    }
    let w = to_f32_vec(weight.into_data())?;
    let bias = match &conv.bias {
        Some(b) => to_f32_vec(b.val().into_data())?,
        None => vec![0.0; c_out],
    };
    // [c_out][c_in][k·k] → [c_out][k·k][c_in]
    let kk = kh * kw;
    let mut reordered = Vec::with_capacity(w.len());
    for o in 0..c_out {
        for t in 0..kk {
            for i in 0..c_in {
                reordered.push(w[(o * c_in + i) * kk + t]);
            }
        }
    }
    let QuantizedLayer {
        weights,
        shifts,
        bias,
    } = quantize_layer(&reordered, &bias, c_out)?;
    IntConv2d::new(c_in, c_out, kh, weights, shifts, bias)
}

/// Quantizes a trained float parallel context model of one group and its quantizer
/// means (one per level) into the integer model.
///
/// # Errors
///
/// [`EntropyError::InvalidModel`] on shape mismatches or non-finite parameters.
pub fn export_parallel_model<B: Backend>(
    model: &ParallelContextModel<B>,
    level_means: &[f32],
) -> Result<IntParallelGroupModel, EntropyError> {
    let prior = model.prior.as_ref().map(export_conv2d).transpose()?;
    let prior_channels = prior.as_ref().map_or(0, IntConv2d::c_in);
    let layers = ParallelLayers {
        prior,
        context: export_conv2d(&model.context)?,
        hidden: export_conv2d(&model.hidden)?,
        out: export_conv2d(&model.out)?,
    };
    let values = level_values(level_means, model.levels())?;
    let int = IntParallelGroupModel::new(
        model.levels(),
        model.channels(),
        prior_channels,
        layers,
        values,
    )?;
    match &model.rate_bias {
        Some(bias) => {
            let biases = to_f32_vec(bias.val().into_data())?;
            if biases.iter().any(|v| !v.is_finite()) {
                return Err(EntropyError::InvalidModel("non-finite rate bias".into()));
            }
            int.with_rate_biases(biases.iter().map(|&v| quantize_act(f64::from(v))).collect())
        }
        None => Ok(int),
    }
}

/// Exports the entropy model of a whole [`Cvqn`] (every group, with its quantizer's
/// means).
///
/// # Errors
///
/// As [`export_context_model`] / [`export_parallel_model`].
pub fn export_entropy_model<B: Backend>(model: &Cvqn<B>) -> Result<EntropyModel, EntropyError> {
    let sizes = model.groups().sizes().to_vec();
    let mut groups = Vec::with_capacity(sizes.len());
    for (g, q) in model.quantizers.iter().enumerate() {
        let means = to_f32_vec(q.mean.val().into_data())?;
        groups.push(if model.parallel.is_empty() {
            GroupModel::Context3d {
                channels: sizes[g],
                model: export_context_model(&model.entropy[g], &means)?,
            }
        } else {
            GroupModel::Parallel(export_parallel_model(&model.parallel[g], &means)?)
        });
    }
    EntropyModel::new(groups)
}
