//! Per-layer forward+backward timing of one conv2d on Flex (the CPU profile in
//! docs/TRAINING.md, "Speed"): `cargo run --release -p cvq-train --example step_profile`.

use burn::backend::{Autodiff, Flex};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Distribution, Tensor, backend::Backend};
use std::time::Instant;

type B = Autodiff<Flex>;

fn t<F: FnMut()>(name: &str, n: usize, mut f: F) {
    f();
    let t0 = Instant::now();
    for _ in 0..n {
        f();
    }
    println!(
        "{name:50} {:8.2} ms",
        t0.elapsed().as_secs_f64() * 1e3 / n as f64
    );
}

fn main() {
    let dev = Default::default();
    // (batch, c_in, c_out, side)
    for &(c_in, c_out, side) in &[
        (3usize, 8usize, 128usize),
        (32, 32, 64),
        (64, 64, 32),
        (128, 128, 16),
        (192, 192, 8),
        (32, 48, 8),
        (128, 48, 16),
    ] {
        let conv = Conv2dConfig::new([c_in, c_out], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init::<B>(&dev);
        let x = Tensor::<B, 4>::random([4, c_in, side, side], Distribution::Default, &dev)
            .require_grad();
        t(&format!("conv fwd {c_in}->{c_out} @{side}"), 5, || {
            let _ = conv.forward(x.clone()).into_data();
        });
        t(&format!("conv fwd+bwd {c_in}->{c_out} @{side}"), 5, || {
            let y = conv.forward(x.clone());
            let g = y.sum().backward();
            let _ = conv.weight.grad(&g).unwrap().into_data();
        });
        // im2col by 9 slices + matmul
        let w = conv.weight.val();
        let b = conv.bias.as_ref().unwrap().val();
        let f = |x: Tensor<B, 4>| {
            let [n, c, h, ww] = x.dims();
            let xp = x.pad((1, 1, 1, 1), burn::tensor::ops::PadMode::Constant(0.0));
            let mut cols = Vec::new();
            for i in 0..3 {
                for j in 0..3 {
                    cols.push(xp.clone().slice([0..n, 0..c, i..i + h, j..j + ww]));
                }
            }
            let cols = Tensor::cat(cols, 1).reshape([n, 9 * c, h * ww]);
            // weight [o, c, 3, 3] -> [o, 3, 3, c] -> [o, 9c]
            let wm = w.clone().permute([0, 2, 3, 1]).reshape([1, c_out, 9 * c]);
            let y = wm.matmul(cols) + b.clone().reshape([1, c_out, 1]);
            y.reshape([n, c_out, h, ww])
        };
        t(&format!("im2col fwd {c_in}->{c_out} @{side}"), 5, || {
            let _ = f(x.clone()).into_data();
        });
        t(
            &format!("im2col fwd+bwd {c_in}->{c_out} @{side}"),
            5,
            || {
                let y = f(x.clone());
                let g = y.sum().backward();
                let _ = conv.weight.grad(&g).unwrap().into_data();
            },
        );
    }
    let _ = <Flex as Backend>::name(&dev);
}
