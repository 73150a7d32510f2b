//! 3×3 convolutions of the decoder's and encoder's shapes (`cvq-compact` on a 12-MP
//! photo's scales): Burn's Flex `conv2d` (channels-first, the Burn path) against
//! [`cvq_kernels::Conv3x3`] (channels-last), on all cores, the median of 3 runs after a
//! warm-up, with the largest difference of their outputs. Prints a table; run with
//! `cargo bench -p cvq-kernels`.

use std::hint::black_box;
use std::time::Instant;

use burn::backend::Flex;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Distribution, Tensor};
use cvq_kernels::{Activation, Conv3x3, Maps};

type B = Flex;

/// Median seconds of `runs` calls of `f` after one warm-up call.
fn median(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[runs / 2]
}

fn main() {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let device = Default::default();
    println!("| conv | map | Flex ms | kernels ms | Flex / kernels | max diff |");
    println!("|---|---|---:|---:|---:|---:|");
    for (cin, cout, h, w) in [
        (8, 32, 1000, 1000),
        (32, 32, 1000, 1000),
        (32, 12, 1000, 1000),
        (16, 32, 750, 1000),
        (64, 64, 375, 500),
        (128, 128, 188, 250),
    ] {
        let conv = Conv2dConfig::new([cin, cout], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init::<B>(&device);
        let x = Tensor::<B, 4>::random([1, cin, h, w], Distribution::Default, &device);
        let flex = median(3, || {
            black_box(conv.forward(x.clone()));
        });
        let planes: Vec<f32> = x.clone().into_data().to_vec().expect("f32");
        let weight: Vec<f32> = conv.weight.val().into_data().to_vec().expect("f32");
        let bias: Vec<f32> = conv
            .bias
            .as_ref()
            .expect("bias")
            .val()
            .into_data()
            .to_vec()
            .expect("f32");
        let kernel = Conv3x3::new(&weight, Some(&bias), cout, cin);
        let maps = Maps::from_planes(&planes, cin, h, w);
        let ours = median(3, || {
            black_box(kernel.forward(&maps, None, Activation::Identity, threads));
        });
        let expected: Vec<f32> = conv.forward(x).into_data().to_vec().expect("f32");
        let got = kernel
            .forward(&maps, None, Activation::Identity, threads)
            .to_planes();
        let diff = expected
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        println!(
            "| {cin}→{cout} | {h}×{w} | {:.0} | {:.0} | {:.2} | {diff:.1e} |",
            flex * 1e3,
            ours * 1e3,
            flex / ours
        );
    }
}
