//! The autoencoder alone: trains a CVQN layout's encoder and decoder on MSE with the
//! quantizers, gains and entropy model left out (the latent goes to the decoder as it is),
//! to tell how far a layout's transforms can go before quantization costs anything.
//! Prints the training PSNR every `LOG` steps and, at the end, the PSNR of the same
//! pass on the given images.
//!
//! ```sh
//! RAYON_NUM_THREADS=1 cargo run --release -p cvq-train --example ae_ceiling -- \
//!     models/cvq-vr.json train512.cvqd 2000 1e-4 [--init MODEL.cvqm] -- IMAGE...
//! ```

use std::error::Error;
use std::path::Path;

use burn::backend::{Autodiff, Flex};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use cvq_core::codec::{RgbImage, image_to_tensor};
use cvq_core::config::CvqnConfig;
use cvq_core::metrics::psnr_tensor;
use cvq_core::model::Cvqn;
use cvq_train::data::Dataset;
use cvq_train::train::batch_tensor;
use cvq_train::train::checkpoint::cvqn_from_model_file;
use cvq_train::train::init::lecun_normal_transforms;

type B = Autodiff<Flex>;

const BATCH: usize = 4;
const CROP: usize = 128;
const LOG: u64 = 100;

/// PSNR of a mean squared error of `0..1` images.
fn psnr(mse: f64) -> f64 {
    -10.0 * mse.log10()
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (head, images) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (&args[..], &[][..]),
    };
    let [config, data, steps, lr, rest @ ..] = head else {
        return Err(
            "usage: ae_ceiling CONFIG.json DATA.cvqd STEPS LR [--init M.cvqm] -- IMAGE...".into(),
        );
    };
    let cfg: CvqnConfig = serde_json::from_str(&std::fs::read_to_string(config)?)?;
    let steps: u64 = steps.parse()?;
    let lr: f64 = lr.parse()?;
    let device = Default::default();
    let mut model: Cvqn<B> = match rest {
        [flag, init] if flag == "--init" => cvqn_from_model_file(Path::new(init), &cfg, &device)?,
        [] => lecun_normal_transforms(Cvqn::new(&cfg, &device)?),
        _ => return Err("unexpected arguments".into()),
    };
    let data = Dataset::open(Path::new(data), CROP)?;
    let mut optim = AdamConfig::new().init::<B, Cvqn<B>>();
    let mut window = 0.0;
    let t0 = std::time::Instant::now();
    for step in 0..steps {
        let x = batch_tensor::<B>(data.batch(7, step, BATCH, CROP)?, BATCH, CROP, &device);
        let y = model.decoder.forward(model.encoder.forward(x.clone()));
        let loss = (y - x).powf_scalar(2.0).mean();
        let mse: f32 = loss.clone().into_scalar();
        window += f64::from(mse);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr, model, grads);
        if (step + 1) % LOG == 0 {
            println!(
                "step {:6}  train PSNR {:6.2} dB  ({:.0} s)",
                step + 1,
                psnr(window / LOG as f64),
                t0.elapsed().as_secs_f64()
            );
            window = 0.0;
        }
    }
    if !images.is_empty() {
        let m = burn::module::AutodiffModule::valid(&model);
        let mut total = 0.0;
        for path in images {
            let img = image::open(path)?.to_rgb8();
            let (w, h) = (img.width() as usize, img.height() as usize);
            let x = image_to_tensor::<Flex>(&RgbImage::new(w, h, img.into_raw())?, &device);
            let y = m
                .decoder
                .forward(m.encoder.forward(x.clone()))
                .clamp(0.0, 1.0);
            let db: f32 = psnr_tensor(x * 255.0, y * 255.0)?.into_scalar();
            total += f64::from(db);
        }
        println!("images: mean PSNR {:.2} dB", total / images.len() as f64);
    }
    Ok(())
}
