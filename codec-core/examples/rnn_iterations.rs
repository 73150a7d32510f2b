//! What each iteration of a recurrent model adds, over a set of images: the residual
//! before the iteration, the decoder's output (the change it makes to the image), how
//! well the output follows the residual, the error after it, and its bytes. All on the
//! 0..255 scale, root-mean-square over every pixel and channel of all images.
//!
//! ```sh
//! cargo run --release -p cvq-core --example rnn_iterations -- models/cvq-rnn.cvqm \
//!     ../shared/data/kodak/kodim01.png ../shared/data/kodak/kodim04.png
//! ```
//!
//! Columns: `residual` (RMS of `x − x̂ₜ₋₁`), `output` (RMS of `x̂ₜ − x̂ₜ₋₁`), `gain` (the
//! least-squares scale of the output onto the residual, `⟨r, o⟩ / ⟨o, o⟩`: above 1 when the
//! output is shrunk), `corr` (their correlation), `error` (RMS of `x − x̂ₜ`), `bytes` (the
//! iteration's payload, all images).

use std::error::Error;

use burn::backend::Flex;
use cvq_core::codec::RgbImage;
use cvq_core::recurrent::codec::{ProgressiveDecode, RecurrentCodecModel};

type B = Flex;

/// Sums over all images of one iteration: `⟨r, o⟩`, `⟨o, o⟩`, `⟨r, r⟩`, the error's
/// energy after it, the values counted and the payload bytes.
#[derive(Default, Clone, Copy)]
struct Sums {
    ro: f64,
    oo: f64,
    rr: f64,
    after: f64,
    n: f64,
    bytes: usize,
}

/// The reconstruction's pixels (0..255), interleaved RGB, cropped to `width × height`.
fn pixels(progress: &ProgressiveDecode<B>, width: usize, height: usize) -> Vec<f64> {
    let t = RecurrentCodecModel::<B>::pixels(progress);
    let [_, _, hp, wp] = t.dims();
    let v: Vec<f32> = t.into_data().to_vec().expect("f32 pixels");
    let mut out = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            out.extend((0..3).map(|c| f64::from(v[(c * hp + y) * wp + x])));
        }
    }
    out
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, images) = args
        .split_first()
        .ok_or("usage: rnn_iterations MODEL.cvqm IMAGE...")?;
    let device = Default::default();
    let m = RecurrentCodecModel::<B>::load(&std::fs::read(model)?, &device)?.with_cpu_kernels(1);
    let iterations = m.config.iterations;
    let mut sums = vec![Sums::default(); iterations];
    for path in images {
        let img = image::open(path)?.to_rgb8();
        let (width, height) = (img.width() as usize, img.height() as usize);
        let x: Vec<f64> = img.as_raw().iter().map(|&v| f64::from(v)).collect();
        let encoded = m.encode(&RgbImage::new(width, height, img.into_raw())?, iterations)?;
        let bits = m.decode_bits(&encoded.bytes, &Default::default(), false)?;
        let mut progress = m.progressive(&bits.header);
        let mut before = pixels(&progress, width, height);
        for s in &mut sums {
            if !m.step(&mut progress, &bits)? {
                break;
            }
            let after = pixels(&progress, width, height);
            for ((x, b), a) in x.iter().zip(&before).zip(&after) {
                let (r, o) = (x - b, a - b);
                s.ro += r * o;
                s.oo += o * o;
                s.rr += r * r;
                s.after += (x - a) * (x - a);
            }
            s.n += x.len() as f64;
            before = after;
        }
        for (s, bytes) in sums.iter_mut().zip(&encoded.payload_bytes) {
            s.bytes += bytes;
        }
    }
    println!("| iteration | residual | output | gain | corr | error | bytes |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (t, s) in sums.iter().enumerate() {
        println!(
            "| {} | {:.2} | {:.2} | {:.3} | {:.3} | {:.2} | {} |",
            t + 1,
            (s.rr / s.n).sqrt(),
            (s.oo / s.n).sqrt(),
            s.ro / s.oo,
            s.ro / (s.rr * s.oo).sqrt(),
            (s.after / s.n).sqrt(),
            s.bytes
        );
    }
    Ok(())
}
