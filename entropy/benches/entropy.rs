//! Entropy coding throughput (symbols/s) of both integer models, shaped like the
//! `small` preset on a Kodak image (768×512 → latent 48×32; groups of 8/16/8 channels
//! with 3/5/7 levels; hidden width 32). Weights are random (speed does not depend on
//! them). Prints a table; run with `cargo bench -p cvq-entropy`.

use std::hint::black_box;
use std::time::Instant;

use cvq_entropy::{
    EntropyModel, GroupModel, IntContextModel3d, IntConv2d, IntMaskedConv3d, IntParallelGroupModel,
    MaskKind, ParallelLayers,
};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn range(&mut self, amp: i64) -> i64 {
        (self.next() % (2 * amp as u64 + 1)) as i64 - amp
    }
}

const GROUPS: [(usize, usize); 3] = [(8, 3), (16, 5), (8, 7)];
const F: usize = 32;
const H: usize = 32;
const W: usize = 48;

fn params(rng: &mut Rng, n: usize, c_out: usize) -> (Vec<i16>, Vec<u8>, Vec<i64>) {
    (
        (0..n).map(|_| rng.range(2000) as i16).collect(),
        vec![14; c_out],
        (0..c_out).map(|_| rng.range(1 << 24)).collect(),
    )
}

fn conv(rng: &mut Rng, c_in: usize, c_out: usize, k: usize) -> IntConv2d {
    let (w, s, b) = params(rng, c_out * k * k * c_in, c_out);
    IntConv2d::new(c_in, c_out, k, w, s, b).unwrap()
}

fn values(l: usize) -> Vec<i32> {
    (0..l).map(|k| (k as i32 - (l / 2) as i32) * 4096).collect()
}

fn parallel_model(rng: &mut Rng) -> EntropyModel {
    let groups = (0..GROUPS.len())
        .map(|g| {
            let (c, l) = GROUPS[g];
            let prior: usize = GROUPS[g + 1..].iter().map(|x| x.0).sum();
            let layers = ParallelLayers {
                prior: (prior > 0).then(|| conv(rng, prior, F, 3)),
                context: conv(rng, c, F, 3),
                hidden: conv(rng, F, F, 1),
                out: conv(rng, F, c * l, 1),
            };
            GroupModel::Parallel(
                IntParallelGroupModel::new(l, c, prior, layers, values(l)).unwrap(),
            )
        })
        .collect();
    EntropyModel::new(groups).unwrap()
}

fn context_model(rng: &mut Rng) -> EntropyModel {
    let groups = GROUPS
        .iter()
        .map(|&(c, l)| {
            let shapes = [
                (MaskKind::Hollow, 1, F),
                (MaskKind::Solid, F, F),
                (MaskKind::Solid, F, F),
                (MaskKind::Solid, F, l),
            ];
            let layers: Vec<IntMaskedConv3d> = shapes
                .iter()
                .map(|&(kind, c_in, c_out)| {
                    let (w, s, b) = params(rng, c_out * kind.taps() * c_in, c_out);
                    IntMaskedConv3d::new(kind, c_in, c_out, w, s, b).unwrap()
                })
                .collect();
            GroupModel::Context3d {
                channels: c,
                model: IntContextModel3d::new(l, F, layers.try_into().unwrap(), values(l)).unwrap(),
            }
        })
        .collect();
    EntropyModel::new(groups).unwrap()
}

fn symbols(rng: &mut Rng) -> Vec<Vec<usize>> {
    GROUPS
        .iter()
        .map(|&(c, l)| {
            (0..c * H * W)
                .map(|_| (rng.next() % l as u64) as usize)
                .collect()
        })
        .collect()
}

fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    black_box(f());
    let start = Instant::now();
    for _ in 0..reps {
        black_box(f());
    }
    start.elapsed().as_secs_f64() / reps as f64
}

fn main() {
    let mut rng = Rng(7);
    let n: usize = GROUPS.iter().map(|g| g.0).sum::<usize>() * H * W;
    println!("entropy coding, {n} symbols (latent 32×{H}×{W}, small-preset shapes, F = {F})");
    println!(
        "{:<10} {:>12} {:>14} {:>12} {:>14}",
        "model", "encode ms", "encode sym/s", "decode ms", "decode sym/s"
    );
    for (name, model, reps) in [
        ("parallel", parallel_model(&mut rng), 5),
        ("context3d", context_model(&mut rng), 1),
    ] {
        let s = symbols(&mut rng);
        let payloads = model.encode(&s, H, W).unwrap();
        let present: Vec<Option<&[u8]>> = payloads.iter().map(|p| Some(p.as_slice())).collect();
        let enc = time(reps, || model.encode(&s, H, W).unwrap());
        let dec = time(reps, || model.decode(&present, H, W).unwrap());
        println!(
            "{name:<10} {:>12.1} {:>14.0} {:>12.1} {:>14.0}",
            enc * 1e3,
            n as f64 / enc,
            dec * 1e3,
            n as f64 / dec
        );
    }
}
