//! Where a CVQN model loses quality: per rate point, over a set of images, the PSNR of
//! the decoder on the quantized code (what the codec decodes) and on the unquantized
//! latent (the autoencoder alone), the estimated bits per pixel, and per channel group
//! the latent's spread, the quantizer's means and how the symbols are used.
//!
//! ```sh
//! cargo run --release -p cvq-core --example cvqn_probe -- models/cvq-compact-q3.cvqm \
//!     ../shared/data/kodak/kodim01.png ../shared/data/kodak/kodim04.png
//! ```
//!
//! Columns: `psnr_q` (decoder of the quantized code), `psnr_noq` (decoder of the latent
//! itself, gain and inverse gain applied), `bpp_est` (the training model's estimate),
//! `H_emp` (the empirical entropy of each group's symbols, bits per symbol, as if coded
//! without context), `top` (the share of the most used symbol), `std` (the gained
//! latent's standard deviation), `means` (the quantizer's means).

use std::error::Error;

use burn::backend::Flex;
use burn::tensor::Tensor;
use cvq_core::codec::{CodecModel, RgbImage, image_to_tensor};
use cvq_core::metrics::psnr_tensor;
use cvq_core::model::split_merge::permute_channels;
use cvq_core::model::synthesis::gain_at;

type B = Flex;

/// PSNR of a reconstruction (`0..1`, clamped) against the input `x`, both `[1, 3, H, W]`.
fn psnr(x: &Tensor<B, 4>, y: Tensor<B, 4>) -> Result<f64, Box<dyn Error>> {
    let db: f32 = psnr_tensor(x.clone() * 255.0, y.clamp(0.0, 1.0) * 255.0)?.into_scalar();
    Ok(f64::from(db))
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, images) = args
        .split_first()
        .ok_or("usage: cvqn_probe MODEL.cvqm IMAGE...")?;
    let device = Default::default();
    let codec = CodecModel::<B>::load(&std::fs::read(model)?, &device)?;
    let m = codec
        .model
        .as_ref()
        .ok_or("the model file has no encoder")?;
    let groups = m.groups();
    println!("rate  psnr_q  psnr_noq  bpp_est  | per group: H_emp top std means");
    for rate in 0..m.rate_points() {
        let (mut pq, mut pn, mut bpp) = (0.0, 0.0, 0.0);
        let mut hist: Vec<Vec<f64>> = m.quantizers.iter().map(|q| vec![0.0; q.levels()]).collect();
        let mut var = vec![(0.0f64, 0.0f64); hist.len()];
        for path in images {
            let img = image::open(path)?.to_rgb8();
            let (w, h) = (img.width() as usize, img.height() as usize);
            let x = image_to_tensor::<B>(&RgbImage::new(w, h, img.into_raw())?, &device);
            let out = m.forward_at(x.clone(), rate);
            let b: f32 = out.bpp().into_scalar();
            bpp += f64::from(b);
            pq += psnr(&x, out.reconstruction.clone())?;
            // `out.latent` is the encoder output times the rate point's gain: the
            // inverse gain alone brings it to what the decoder sees, unquantized.
            let noq = match &m.inv_gain {
                Some(ig) => out.latent.clone() * gain_at(ig, rate),
                None => out.latent.clone(),
            };
            pn += psnr(&x, m.decoder.forward(noq))?;
            for (g, group) in out.groups.iter().enumerate() {
                let s: Vec<i64> = group
                    .symbols
                    .clone()
                    .into_data()
                    .convert::<i64>()
                    .to_vec()?;
                for v in s {
                    hist[g][v as usize] += 1.0;
                }
            }
            let parts = groups.split(permute_channels(out.latent, out.order));
            for (g, p) in parts.into_iter().enumerate() {
                let v: Vec<f32> = p.into_data().to_vec()?;
                let n = v.len() as f64;
                let mean = v.iter().map(|&a| f64::from(a)).sum::<f64>() / n;
                let sq = v
                    .iter()
                    .map(|&a| (f64::from(a) - mean).powi(2))
                    .sum::<f64>()
                    / n;
                var[g].0 += sq;
                var[g].1 += 1.0;
            }
        }
        let n = images.len() as f64;
        print!(
            "{:4}  {:6.2}  {:8.2}  {:7.4}  |",
            rate + 1,
            pq / n,
            pn / n,
            bpp / n
        );
        for (g, hg) in hist.iter().enumerate() {
            let total: f64 = hg.iter().sum();
            let ent: f64 = hg
                .iter()
                .filter(|&&c| c > 0.0)
                .map(|&c| -(c / total) * (c / total).log2())
                .sum();
            let top = hg.iter().cloned().fold(0.0, f64::max) / total;
            print!(
                " g{g}: {ent:.2} {top:.2} {:.2}",
                (var[g].0 / var[g].1).sqrt()
            );
        }
        println!();
    }
    for (g, q) in m.quantizers.iter().enumerate() {
        let means: Vec<f32> = q.mean.val().into_data().to_vec()?;
        let stds: Vec<f32> = q.log_std.val().exp().into_data().to_vec()?;
        println!(
            "group {g} ({} ch): means {:?}\n          stds {:?}",
            groups.sizes()[g],
            means
                .iter()
                .map(|v| (v * 100.0).round() / 100.0)
                .collect::<Vec<_>>(),
            stds.iter()
                .map(|v| (v * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        );
    }
    if let Some(g) = &m.gain {
        let v: Vec<f32> = g.val().exp().into_data().to_vec()?;
        let c = m.code_channels();
        for k in 0..m.rate_points() {
            let row = &v[k * c..(k + 1) * c];
            let (mn, mx) = row
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            let mean = row.iter().sum::<f32>() / c as f32;
            println!(
                "gain rate {}: mean {mean:.3} min {mn:.3} max {mx:.3}",
                k + 1
            );
        }
    }
    Ok(())
}
