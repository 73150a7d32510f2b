//! `cvq-train plot`: a run's training curves (`metrics.csv`) as one SVG with four
//! panels — loss, estimated bpp, PSNR and MS-SSIM against the step (plotters).

use std::path::Path;

use plotters::prelude::*;

use crate::train::{MetricsRow, TrainError, read_metrics};

/// Errors of plotting.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The run's metrics cannot be read.
    #[error(transparent)]
    Run(#[from] TrainError),
    /// Nothing logged yet.
    #[error("{0}: metrics.csv has no rows yet")]
    Empty(String),
    /// Drawing failed.
    #[error("drawing {path}: {message}")]
    Draw {
        /// The output file.
        path: String,
        /// Cause.
        message: String,
    },
}

type Series = (&'static str, fn(&MetricsRow) -> Option<f64>);

const PANELS: [Series; 4] = [
    ("loss", |r| Some(r.loss)),
    ("estimated bpp", |r| Some(r.bpp)),
    ("PSNR (dB)", |r| Some(r.psnr)),
    ("MS-SSIM", |r| r.ms_ssim),
];

/// Draws the curves of `run` into `output` (SVG).
///
/// # Errors
///
/// No metrics, or the file cannot be written.
pub fn plot_run(run: &Path, output: &Path) -> Result<(), PlotError> {
    let rows = read_metrics(run)?;
    if rows.is_empty() {
        return Err(PlotError::Empty(run.display().to_string()));
    }
    draw(&rows, output).map_err(|e| PlotError::Draw {
        path: output.display().to_string(),
        message: e.to_string(),
    })
}

fn draw(rows: &[MetricsRow], output: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(output, (1200, 800)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_step = rows.iter().map(|r| r.step).max().unwrap_or(1).max(1);
    for (area, (name, value)) in root.split_evenly((2, 2)).iter().zip(PANELS) {
        let points: Vec<(u64, f64)> = rows
            .iter()
            .filter_map(|r| value(r).filter(|v| v.is_finite()).map(|v| (r.step, v)))
            .collect();
        let (lo, hi) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, v)| {
                (lo.min(v), hi.max(v))
            });
        let (lo, hi) = if points.is_empty() {
            (0.0, 1.0)
        } else if hi - lo < 1e-9 {
            (lo - 0.5, hi + 0.5)
        } else {
            (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
        };
        let mut chart = ChartBuilder::on(area)
            .caption(name, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0..max_step, lo..hi)?;
        chart.configure_mesh().x_desc("step").draw()?;
        chart.draw_series(LineSeries::new(points, &BLUE))?;
    }
    root.present()?;
    Ok(())
}
