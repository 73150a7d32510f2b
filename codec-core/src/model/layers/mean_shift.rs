//! `MeanShift`: frozen per-channel affine normalisation of RGB images.

use burn::module::Module;
use burn::tensor::{Tensor, TensorData, backend::Backend};

/// Direction of a [`MeanShift`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShiftDirection {
    /// `y = (x − mean) / std` (encoder input).
    Subtract,
    /// `y = x · std + mean` (decoder output).
    Add,
}

/// Frozen 1×1 affine map on the 3 RGB channels: `[B, 3, H, W] → [B, 3, H, W]`.
///
/// It has no trainable parameters (the seed freezes it); the statistics are stored in
/// the model config.
#[derive(Module, Debug, Clone)]
pub struct MeanShift {
    mean: [f32; 3],
    std: [f32; 3],
    subtract: bool,
}

impl MeanShift {
    /// Creates the map for dataset statistics `mean`, `std` (inputs in `0..1`).
    pub fn new(mean: [f64; 3], std: [f64; 3], direction: ShiftDirection) -> Self {
        Self {
            mean: mean.map(|v| v as f32),
            std: std.map(|v| v as f32),
            subtract: direction == ShiftDirection::Subtract,
        }
    }

    /// `(scale, shift)` of an [`ShiftDirection::Add`] map (`y = x · scale + shift`);
    /// `None` for a subtracting one.
    pub fn add_scale_shift(&self) -> Option<([f32; 3], [f32; 3])> {
        (!self.subtract).then_some((self.std, self.mean))
    }

    /// `(mean, std)` of a [`ShiftDirection::Subtract`] map (`y = (x − mean) / std`);
    /// `None` for an adding one.
    pub fn subtract_mean_std(&self) -> Option<([f32; 3], [f32; 3])> {
        self.subtract.then_some((self.mean, self.std))
    }

    /// Applies the map.
    pub fn forward<B: Backend>(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let device = x.device();
        let mean =
            Tensor::<B, 1>::from_data(TensorData::from(self.mean), &device).reshape([1, 3, 1, 1]);
        let std =
            Tensor::<B, 1>::from_data(TensorData::from(self.std), &device).reshape([1, 3, 1, 1]);
        if self.subtract {
            (x - mean) / std
        } else {
            x * std + mean
        }
    }
}
