//! RD plots (SVG, plotters): one curve per codec through its mean points, quality against
//! bpp.

use std::path::Path;

use plotters::prelude::*;

use super::report::{codec_order_of, curves};
use super::{BenchError, Row};

/// The quality axis of a plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// PSNR (dB).
    Psnr,
    /// MS-SSIM as `−10 · log10(1 − MS-SSIM)` (dB).
    MsSsimDb,
}

impl Metric {
    fn label(self) -> &'static str {
        match self {
            Self::Psnr => "PSNR (dB, 8-bit RGB)",
            Self::MsSsimDb => "MS-SSIM (dB) = -10 log10(1 - MS-SSIM)",
        }
    }
}

/// Draws the mean curves of every codec in `means` (settings that cover all `n_images`).
///
/// # Errors
///
/// [`BenchError::Draw`].
pub fn draw_rd(
    means: &[Row],
    n_images: usize,
    output: &Path,
    metric: Metric,
) -> Result<(), BenchError> {
    let series: Vec<(String, Vec<(f64, f64)>)> = codec_order_of(means)
        .into_iter()
        .map(|codec| {
            let (psnr, ms) = curves(means, &codec, n_images);
            let mut pts = match metric {
                Metric::Psnr => psnr,
                Metric::MsSsimDb => ms,
            };
            pts.retain(|(x, y)| x.is_finite() && y.is_finite());
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            (codec, pts)
        })
        .collect();
    draw(&series, output, metric).map_err(|e| BenchError::Draw {
        path: output.display().to_string(),
        message: e.to_string(),
    })
}

fn draw(
    series: &[(String, Vec<(f64, f64)>)],
    output: &Path,
    metric: Metric,
) -> Result<(), Box<dyn std::error::Error>> {
    let all = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x_hi, mut y_lo, mut y_hi) = (0.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in all {
        x_hi = x_hi.max(x);
        y_lo = y_lo.min(y);
        y_hi = y_hi.max(y);
    }
    if !y_lo.is_finite() {
        (y_lo, y_hi) = (0.0, 1.0);
    }
    if x_hi <= 0.0 {
        x_hi = 1.0;
    }
    let pad = ((y_hi - y_lo) * 0.05).max(0.5);
    let root = SVGBackend::new(output, (900, 640)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{} vs bpp (mean over images)", metric.label()),
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_hi * 1.05, (y_lo - pad)..(y_hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("bits per pixel")
        .y_desc(metric.label())
        .draw()?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let style = ShapeStyle::from(color).stroke_width(2);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), style).point_size(3))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
