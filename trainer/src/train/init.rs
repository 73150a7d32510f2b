//! Training initialisation of the analysis and synthesis transforms.
//!
//! Burn's default convolution init (PyTorch's: Kaiming-uniform with a = √5, weight
//! variance `1 / (3·fan_in)`) shrinks the signal by √3 per convolution. The encoder and
//! decoder of the small presets are chains of 8–10 mostly linear convolutions, so at
//! that init the latent is ~10⁻³ of the input scale and the decoder output is its bias:
//! training spent hundreds of steps without learning anything but the mean colour.
//! Drawing every convolution weight from `N(0, 1/fan_in)` (LeCun normal) keeps the
//! signal's scale through the chain instead; the decoder's last convolution (`tail`)
//! starts at zero, so the first reconstructions are the dataset mean colour rather than
//! noise far outside `0..1`.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use cvq_core::model::Cvqn;

struct LecunNormal {
    path: Vec<String>,
    /// Draw the module named `tail` at zero (the decoder's last convolution only: a
    /// zero encoder tail would make the first latent constant, and the quantizer means
    /// fitted to it would collapse onto one value).
    zero_tail: bool,
}

impl<B: Backend> ModuleMapper<B> for LecunNormal {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let require_grad = tensor.is_require_grad();
        let tensor = if D == 4 {
            // Convolution weight `[out, in, kh, kw]`.
            let dims = tensor.dims();
            let fan_in = (dims[1] * dims[2] * dims[3]).max(1) as f64;
            let gain = if self.zero_tail && self.path.iter().any(|p| p == "tail") {
                0.0
            } else {
                1.0
            };
            Tensor::random(
                tensor.shape(),
                Distribution::Normal(0.0, gain * fan_in.recip().sqrt()),
                &tensor.device(),
            )
            .set_require_grad(require_grad)
        } else {
            tensor
        };
        Param::from_mapped_value(id, tensor, mapper)
    }
}

/// Re-draws every convolution weight of the encoder and decoder from `N(0, 1/fan_in)`,
/// the decoder's last convolution at zero (biases and everything else unchanged). Uses
/// Burn's seeded RNG.
pub fn lecun_normal_transforms<B: Backend>(mut model: Cvqn<B>) -> Cvqn<B> {
    model.encoder = model.encoder.map(&mut LecunNormal {
        path: Vec::new(),
        zero_tail: false,
    });
    model.decoder = model.decoder.map(&mut LecunNormal {
        path: Vec::new(),
        zero_tail: true,
    });
    model
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::module::ModuleVisitor;
    use cvq_core::config::{CvqnConfig, Preset};

    struct Trainable {
        frozen: usize,
        convs: usize,
    }

    impl<B: Backend> ModuleVisitor<B> for Trainable {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if D == 4 {
                self.convs += 1;
                if !param.val().is_require_grad() {
                    self.frozen += 1;
                }
            }
        }
    }

    #[test]
    fn redrawn_weights_stay_trainable_and_keep_scale() {
        type B = Autodiff<Flex>;
        let device = Default::default();
        let model = Cvqn::<B>::new(&CvqnConfig::preset(Preset::Tiny), &device).unwrap();
        let model = lecun_normal_transforms(model);
        let mut t = Trainable {
            frozen: 0,
            convs: 0,
        };
        model.encoder.visit(&mut t);
        model.decoder.visit(&mut t);
        assert!(t.convs > 10);
        assert_eq!(
            t.frozen, 0,
            "re-initialised weights must still require gradients"
        );
        let x = Tensor::<B, 4>::random([1, 3, 64, 64], Distribution::Default, &device);
        let latent = model.encoder.forward(x);
        // Spread across positions within each channel, not only a per-channel bias: the
        // quantizer means are fitted to this spread (a zero encoder tail once made it 0).
        let centred = latent.clone() - latent.clone().mean_dim(3).mean_dim(2);
        let spread: f32 = centred.powi_scalar(2).mean().sqrt().into_scalar();
        assert!(spread > 0.02, "latent spread {spread} collapsed");
        // The decoder's last convolution starts at zero: its output is constant per channel.
        let y = model.decoder.forward(latent);
        let per_channel = y.clone().mean_dim(3).mean_dim(2);
        let y_spread: f32 = (y - per_channel).abs().max().into_scalar();
        assert!(
            y_spread < 1e-5,
            "first reconstructions are flat colours ({y_spread})"
        );
    }
}
