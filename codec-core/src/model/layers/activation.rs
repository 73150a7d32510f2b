//! Pointwise activations selected by [`Activation`].

use burn::tensor::{Tensor, activation, backend::Backend};

use crate::config::Activation;

/// Applies `act` to a tensor of any rank.
pub fn apply<B: Backend, const D: usize>(act: Activation, x: Tensor<B, D>) -> Tensor<B, D> {
    match act {
        Activation::Relu => activation::relu(x),
        Activation::LeakyRelu { negative_slope } => activation::leaky_relu(x, negative_slope),
        Activation::Identity => x,
    }
}
