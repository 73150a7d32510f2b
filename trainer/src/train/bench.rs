//! `cvq-train bench`: training-step throughput of a model at several batch sizes on the
//! backend the binary was built for.
//!
//! For each batch size: a fresh model ([`super::initial_model_from`]) and optimizer, the
//! first step timed alone (kernel compilation and autotuning on a GPU: the cold start),
//! `warmup − 1` more untimed steps, then `steps` timed steps (each reads its statistics
//! back, as training does, so steps never pile up on the device), then `phase_steps`
//! steps with the device synchronised after each phase (upload, forward + loss, backward,
//! optimizer, read-back) for the time split. Data: crops of a real dataset through the
//! training loader, or uniform random images made on the host (a pool of four batches,
//! as in `tools/torch_reference/cvqn_ref.py`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use cvq_core::model::Cvqn;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::step::{PhaseTimes, new_optimizer, train_step};
use super::{ParamGroups, TrainConfig, TrainError, initial_model_from};
use crate::data::{Dataset, Loader};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Batch sizes, each measured with a fresh model.
    pub batch_sizes: Vec<usize>,
    /// Untimed steps after a fresh start (the first of them is timed alone), ≥ 1.
    pub warmup: u64,
    /// Timed steps.
    pub steps: u64,
    /// Steps with per-phase timing (device synchronised after each phase).
    pub phase_steps: u64,
    /// Real training data (folder or pack); `None`: random images.
    pub data: Option<PathBuf>,
}

/// One measured batch size.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// Images per step.
    pub batch: usize,
    /// Crop side.
    pub crop: usize,
    /// Seconds of the first step of a fresh model (includes compilation/autotuning).
    pub first_step_s: f64,
    /// Seconds of the remaining warm-up steps.
    pub warmup_s: f64,
    /// Timed steps.
    pub steps: u64,
    /// Seconds of the timed steps.
    pub seconds: f64,
    /// Steps per second (timed steps).
    pub steps_per_s: f64,
    /// Crops per second: `batch × steps_per_s`.
    pub crops_per_s: f64,
    /// Mean phase times of the phase-timed steps (seconds per step).
    pub phases: PhaseTimesRow,
    /// Loss of the last timed step (a sanity value: finite, not a quality figure).
    pub last_loss: f64,
}

/// [`PhaseTimes`] as a serialisable row.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PhaseTimesRow {
    /// Host → device copy of the batch.
    pub upload: f64,
    /// Forward pass and loss.
    pub forward: f64,
    /// Backward pass.
    pub backward: f64,
    /// Optimizer updates.
    pub optimizer: f64,
    /// Read-back of the statistics.
    pub readback: f64,
}

impl From<PhaseTimes> for PhaseTimesRow {
    fn from(t: PhaseTimes) -> Self {
        Self {
            upload: t.upload,
            forward: t.forward,
            backward: t.backward,
            optimizer: t.optimizer,
            readback: t.readback,
        }
    }
}

/// Where the batches come from.
enum Batches {
    Real(Loader),
    Random { pool: Vec<Vec<f32>>, next: usize },
}

impl Batches {
    fn next(&mut self) -> Result<Vec<f32>, TrainError> {
        match self {
            Batches::Real(loader) => Ok(loader.next_batch()?),
            Batches::Random { pool, next } => {
                *next += 1;
                Ok(pool[*next % pool.len()].clone())
            }
        }
    }
}

fn random_batch(seed: u64, len: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random::<f32>()).collect()
}

/// Measures every batch size of `opts` with the model, loss and learning rates of `cfg`
/// (its `batch_size` is replaced). `report` is called after each batch size.
///
/// # Errors
///
/// Invalid configuration, unreadable data, or a failing step.
pub fn bench<B: AutodiffBackend>(
    cfg: &TrainConfig,
    opts: &BenchOptions,
    device: &B::Device,
    mut report: impl FnMut(&BenchRow),
) -> Result<Vec<BenchRow>, TrainError> {
    if opts.batch_sizes.is_empty() || opts.warmup == 0 || opts.steps == 0 {
        return Err(TrainError::Run(
            "bench needs at least one batch size, --warmup ≥ 1 and --steps ≥ 1".into(),
        ));
    }
    let data = opts
        .data
        .as_ref()
        .map(|d| Dataset::open(d, cfg.crop).map(Arc::new))
        .transpose()?;
    let mut rows = Vec::new();
    for &batch in &opts.batch_sizes {
        let mut cfg = cfg.clone();
        cfg.batch_size = batch;
        cfg.validate()?;
        let len = batch * 3 * cfg.crop * cfg.crop;
        let mut batches = match &data {
            Some(d) => Batches::Real(Loader::start(
                d.clone(),
                cfg.seed,
                0,
                batch,
                cfg.crop,
                cfg.workers,
                2,
            )),
            None => Batches::Random {
                pool: (0..4).map(|i| random_batch(cfg.seed ^ i, len)).collect(),
                next: 0,
            },
        };
        let first = batches.next()?;
        let mut model = initial_model_from::<B>(&cfg, first.clone(), device)?;
        let groups = ParamGroups::of(&model);
        let mut optim = new_optimizer::<B>(&cfg);
        let mut step = 0u64;
        let mut run = |model: Cvqn<B>,
                       optim: &mut _,
                       timer: Option<&mut PhaseTimes>,
                       values: Vec<f32>|
         -> Result<_, TrainError> {
            let r = train_step(
                model, optim, &groups, &cfg, values, step, false, timer, device,
            )?;
            step += 1;
            Ok(r)
        };
        let t = Instant::now();
        let (m, _) = run(model, &mut optim, None, first)?;
        model = m;
        let first_step_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for _ in 1..opts.warmup {
            let values = batches.next()?;
            model = run(model, &mut optim, None, values)?.0;
        }
        let warmup_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut last_loss = f64::NAN;
        for _ in 0..opts.steps {
            let values = batches.next()?;
            let (m, stats) = run(model, &mut optim, None, values)?;
            model = m;
            last_loss = stats.loss;
        }
        let seconds = t.elapsed().as_secs_f64();
        let mut phases = PhaseTimes::default();
        for _ in 0..opts.phase_steps {
            let values = batches.next()?;
            model = run(model, &mut optim, Some(&mut phases), values)?.0;
        }
        let steps_per_s = opts.steps as f64 / seconds.max(1e-9);
        let row = BenchRow {
            batch,
            crop: cfg.crop,
            first_step_s,
            warmup_s,
            steps: opts.steps,
            seconds,
            steps_per_s,
            crops_per_s: steps_per_s * batch as f64,
            phases: phases.scaled(opts.phase_steps.max(1) as f64).into(),
            last_loss,
        };
        report(&row);
        rows.push(row);
    }
    Ok(rows)
}

/// The rows as a Markdown table (times in ms).
pub fn table(rows: &[BenchRow]) -> String {
    let mut s = String::from(
        "| batch | crop | first step s | steps/s | crops/s | upload ms | forward ms | backward ms | optimizer ms | read-back ms |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let p = &r.phases;
        s.push_str(&format!(
            "| {} | {} | {:.2} | {:.3} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
            r.batch,
            r.crop,
            r.first_step_s,
            r.steps_per_s,
            r.crops_per_s,
            p.upload * 1e3,
            p.forward * 1e3,
            p.backward * 1e3,
            p.optimizer * 1e3,
            p.readback * 1e3
        ));
    }
    s
}
