//! Means, BD-rates and the speed table of a benchmark run; CSV, JSON and Markdown output.
//!
//! - `PREFIX.csv`: one row per codec × setting × image, then one `mean` row per codec ×
//!   setting (columns of [`Row`]).
//! - `PREFIX.json`: the run's summary — images, codecs (versions, settings, skipped ones),
//!   cvq models with their MACs per pixel, mean rows, BD-rates, the speed table and
//!   failures (the per-image rows are in the CSV only, to keep the file small).
//!
//! A mean is over the images a setting succeeded on (`n_images`); only settings that
//! succeeded on every image enter the RD curves. The MS-SSIM of a mean row is the mean
//! MS-SSIM, and its dB value is that of the mean.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::bd_rate::{BdMethod, bd_rate_checked};
use super::{BenchError, BenchResults, CodecInfo, CvqModelInfo, Failure, Row, ms_ssim_db};

/// One BD-rate result (percent, or why it is unavailable).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BdValue {
    /// BD-rate in percent (negative: cvq needs fewer bits).
    pub percent: Option<f64>,
    /// Why there is no value (`too few points`, `no overlap`, …).
    pub unavailable: Option<String>,
}

impl BdValue {
    fn of(r: Result<f64, super::bd_rate::BdUnavailable>) -> Self {
        match r {
            Ok(v) => Self {
                percent: Some(v),
                unavailable: None,
            },
            Err(e) => Self {
                percent: None,
                unavailable: Some(e.to_string()),
            },
        }
    }

    /// `-12.3 %` or `n/a (no overlap)`.
    pub fn text(&self) -> String {
        match (self.percent, &self.unavailable) {
            (Some(v), _) => format!("{v:+.1} %"),
            (None, Some(why)) => format!("n/a ({why})"),
            (None, None) => "n/a".into(),
        }
    }
}

/// BD-rates of a cvq family (test: `cvq`, or `cvq-rnn` for a recurrent model) against
/// one classical codec (anchor) for one quality metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BdEntry {
    /// The cvq family tested.
    pub test: String,
    /// The anchor codec.
    pub anchor: String,
    /// `PSNR` or `MS-SSIM-dB`.
    pub metric: String,
    /// Piecewise cubic (PCHIP) interpolation.
    pub pchip: BdValue,
    /// Cubic polynomial fit (VCEG-M33).
    pub cubic: BdValue,
}

/// Mean speed of one codec over all its settings and images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpeedRow {
    /// Codec.
    pub codec: String,
    /// Encode + decode runs measured.
    pub runs: usize,
    /// Mean encode time per image (ms).
    pub encode_ms: f64,
    /// Mean decode time per image (ms).
    pub decode_ms: f64,
    /// cvq: decoder-side MACs per pixel (synthesis + entropy model; the largest over the
    /// models).
    pub decode_macs_per_pixel: Option<f64>,
}

/// The derived tables.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Mean rows, codec and setting order.
    pub means: Vec<Row>,
    /// cvq against each classical codec that ran.
    pub bd_rate: Vec<BdEntry>,
    /// Per codec.
    pub speed: Vec<SpeedRow>,
}

/// An RD curve: `(bpp, quality)` of the complete mean rows of a codec.
pub type Curve = Vec<(f64, f64)>;

/// The codecs with results, in report order.
pub fn codec_order(results: &BenchResults) -> Vec<String> {
    codec_order_of(&results.rows)
}

/// The codecs of `rows` in order of first appearance.
pub fn codec_order_of(rows: &[Row]) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for r in rows {
        if !order.contains(&r.codec) {
            order.push(r.codec.clone());
        }
    }
    order
}

/// Means per codec × setting.
pub fn means(results: &BenchResults) -> Vec<Row> {
    let mut out = Vec::new();
    for codec in codec_order(results) {
        let mut settings: Vec<&str> = Vec::new();
        for r in results.rows.iter().filter(|r| r.codec == codec) {
            if !settings.contains(&r.setting.as_str()) {
                settings.push(&r.setting);
            }
        }
        for s in settings {
            let rows: Vec<&Row> = results
                .rows
                .iter()
                .filter(|r| r.codec == codec && r.setting == s)
                .collect();
            out.push(mean_row(&codec, s, &rows));
        }
    }
    out
}

fn mean_row(codec: &str, setting: &str, rows: &[&Row]) -> Row {
    let n = rows.len() as f64;
    let mean = |f: fn(&Row) -> f64| rows.iter().map(|r| f(r)).sum::<f64>() / n;
    let ms: Vec<f64> = rows.iter().filter_map(|r| r.ms_ssim).collect();
    let ms_ssim = (!ms.is_empty()).then(|| ms.iter().sum::<f64>() / ms.len() as f64);
    Row {
        codec: codec.into(),
        setting: setting.into(),
        image: "mean".into(),
        n_images: rows.len(),
        width: 0,
        height: 0,
        bytes: mean(|r| r.bytes as f64).round() as u64,
        bpp: mean(|r| r.bpp),
        psnr: mean(|r| r.psnr),
        ms_ssim,
        ms_ssim_db: ms_ssim.and_then(ms_ssim_db),
        encode_ms: mean(|r| r.encode_ms),
        decode_ms: mean(|r| r.decode_ms),
    }
}

/// PSNR and MS-SSIM-dB curves of `codec` from the mean rows that cover every image.
pub fn curves(means: &[Row], codec: &str, n_images: usize) -> (Curve, Curve) {
    let complete: Vec<&Row> = means
        .iter()
        .filter(|r| r.codec == codec && r.n_images == n_images)
        .collect();
    let psnr = complete
        .iter()
        .filter(|r| r.psnr.is_finite())
        .map(|r| (r.bpp, r.psnr))
        .collect();
    let ms = complete
        .iter()
        .filter_map(|r| r.ms_ssim_db.map(|d| (r.bpp, d)))
        .collect();
    (psnr, ms)
}

/// Means, BD-rates (cvq against every other codec) and speeds.
pub fn analyse(results: &BenchResults) -> Analysis {
    let means = means(results);
    let n = results.images.len();
    let mut bd_rate = Vec::new();
    let order = codec_order(results);
    let is_cvq = |c: &str| c == "cvq" || c == crate::CVQ_RNN;
    for test in order.iter().filter(|c| is_cvq(c)) {
        let (cvq_psnr, cvq_ms) = curves(&means, test, n);
        for anchor in order.iter().filter(|c| !is_cvq(c)) {
            let (a_psnr, a_ms) = curves(&means, anchor, n);
            for (metric, a, t) in [("PSNR", &a_psnr, &cvq_psnr), ("MS-SSIM-dB", &a_ms, &cvq_ms)] {
                bd_rate.push(BdEntry {
                    test: test.clone(),
                    anchor: anchor.clone(),
                    metric: metric.into(),
                    pchip: BdValue::of(bd_rate_checked(a, t, BdMethod::Pchip)),
                    cubic: BdValue::of(bd_rate_checked(a, t, BdMethod::Cubic)),
                });
            }
        }
    }
    let speed = order
        .iter()
        .map(|codec| {
            let rows: Vec<&Row> = results.rows.iter().filter(|r| r.codec == *codec).collect();
            let k = rows.len().max(1) as f64;
            SpeedRow {
                codec: codec.clone(),
                runs: rows.len(),
                encode_ms: rows.iter().map(|r| r.encode_ms).sum::<f64>() / k,
                decode_ms: rows.iter().map(|r| r.decode_ms).sum::<f64>() / k,
                // The largest of the codec's own cvq settings (none for classical codecs).
                decode_macs_per_pixel: results.codecs.iter().find(|c| c.name == *codec).and_then(
                    |c| {
                        results
                            .cvq_models
                            .iter()
                            .filter(|m| c.settings.contains(&m.setting))
                            .map(|m| m.decoder_macs_per_pixel + m.entropy_macs_per_pixel)
                            .reduce(f64::max)
                    },
                ),
            }
        })
        .collect();
    Analysis {
        means,
        bd_rate,
        speed,
    }
}

/// The JSON document.
#[derive(Debug, Serialize)]
struct Summary<'a> {
    tool: &'static str,
    data: String,
    images: &'a [String],
    codecs: &'a [CodecInfo],
    cvq_models: &'a [CvqModelInfo],
    means: &'a [Row],
    bd_rate: &'a [BdEntry],
    speed: &'a [SpeedRow],
    failures: &'a [Failure],
    notes: [&'static str; 4],
}

/// The files written by [`write_all`].
#[derive(Debug, Clone)]
pub struct OutputFiles {
    /// Per-image and mean rows.
    pub csv: PathBuf,
    /// Summary.
    pub json: PathBuf,
    /// PSNR against bpp.
    pub psnr_svg: PathBuf,
    /// MS-SSIM (dB) against bpp.
    pub ms_ssim_svg: PathBuf,
}

/// `PREFIX` + `suffix` (`results/rd/rd` + `.csv` → `results/rd/rd.csv`).
pub fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes the CSV, the JSON and both plots next to `prefix` (its folder is created).
///
/// # Errors
///
/// A file cannot be written or a plot drawn.
pub fn write_all(
    results: &BenchResults,
    analysis: &Analysis,
    prefix: &Path,
) -> Result<OutputFiles, BenchError> {
    let files = OutputFiles {
        csv: with_suffix(prefix, ".csv"),
        json: with_suffix(prefix, ".json"),
        psnr_svg: with_suffix(prefix, "-psnr.svg"),
        ms_ssim_svg: with_suffix(prefix, "-msssim.svg"),
    };
    if let Some(dir) = prefix.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| BenchError::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let csv_err = |e: csv::Error| BenchError::Csv {
        path: files.csv.display().to_string(),
        message: e.to_string(),
    };
    let mut w = csv::Writer::from_path(&files.csv).map_err(csv_err)?;
    for r in results.rows.iter().chain(&analysis.means) {
        w.serialize(r).map_err(csv_err)?;
    }
    w.flush().map_err(|source| BenchError::Io {
        path: files.csv.display().to_string(),
        source,
    })?;
    let summary = Summary {
        tool: "cvq-bench",
        data: results.data.display().to_string(),
        images: &results.images,
        codecs: &results.codecs,
        cvq_models: &results.cvq_models,
        means: &analysis.means,
        bd_rate: &analysis.bd_rate,
        speed: &analysis.speed,
        failures: &results.failures,
        notes: [
            "bpp = 8 * file bytes / pixels; PSNR over 8-bit RGB; MS-SSIM: codec-core (RGB mean, null below 161 px)",
            "mean rows: arithmetic means over images; ms_ssim_db of a mean row = -10 log10(1 - mean MS-SSIM)",
            "bd_rate: a cvq family (test) against the anchor codec, percent; negative = cvq needs fewer bits at equal quality; over the overlapping quality interval only",
            "times: wall time of the tool process (classical) or of the library calls (cvq), ms per image",
        ],
    };
    let json = serde_json::to_string_pretty(&summary).expect("summary serialises");
    std::fs::write(&files.json, json + "\n").map_err(|source| BenchError::Io {
        path: files.json.display().to_string(),
        source,
    })?;
    super::plot::draw_rd(
        &analysis.means,
        results.images.len(),
        &files.psnr_svg,
        super::plot::Metric::Psnr,
    )?;
    super::plot::draw_rd(
        &analysis.means,
        results.images.len(),
        &files.ms_ssim_svg,
        super::plot::Metric::MsSsimDb,
    )?;
    Ok(files)
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.digits$}"))
}

/// The mean table (Markdown).
pub fn mean_table(analysis: &Analysis) -> String {
    let mut s = String::from(
        "| codec | setting | images | bpp | PSNR (dB) | MS-SSIM | MS-SSIM (dB) | encode ms | decode ms |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &analysis.means {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.4} | {:.2} | {} | {} | {:.1} | {:.1} |",
            r.codec,
            r.setting,
            r.n_images,
            r.bpp,
            r.psnr,
            opt(r.ms_ssim, 4),
            opt(r.ms_ssim_db, 2),
            r.encode_ms,
            r.decode_ms
        );
    }
    s
}

/// The BD-rate table (Markdown), one row per cvq family and anchor codec.
pub fn bd_table(analysis: &Analysis) -> String {
    let mut s = String::from(
        "| cvq vs | BD-rate PSNR (PCHIP) | BD-rate PSNR (cubic) | BD-rate MS-SSIM-dB (PCHIP) | BD-rate MS-SSIM-dB (cubic) |\n|---|---:|---:|---:|---:|\n",
    );
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for e in &analysis.bd_rate {
        if !pairs.contains(&(e.test.as_str(), e.anchor.as_str())) {
            pairs.push((&e.test, &e.anchor));
        }
    }
    for (t, a) in pairs {
        let get = |metric: &str| {
            analysis
                .bd_rate
                .iter()
                .find(|e| e.test == t && e.anchor == a && e.metric == metric)
        };
        let cells = |e: Option<&BdEntry>| {
            e.map_or(("n/a".to_string(), "n/a".to_string()), |e| {
                (e.pchip.text(), e.cubic.text())
            })
        };
        let (pp, pc) = cells(get("PSNR"));
        let (mp, mc) = cells(get("MS-SSIM-dB"));
        let label = if t == "cvq" {
            a.to_string()
        } else {
            format!("{a} ({t})")
        };
        let _ = writeln!(s, "| {label} | {pp} | {pc} | {mp} | {mc} |");
    }
    s
}

/// The speed table (Markdown).
pub fn speed_table(analysis: &Analysis) -> String {
    let mut s = String::from(
        "| codec | runs | encode ms / image | decode ms / image | decode MAC / px |\n|---|---:|---:|---:|---:|\n",
    );
    for r in &analysis.speed {
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {:.1} | {} |",
            r.codec,
            r.runs,
            r.encode_ms,
            r.decode_ms,
            r.decode_macs_per_pixel
                .map_or("—".into(), |m| format!("{:.0}", m))
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(codec: &str, setting: &str, image: &str, bpp: f64, psnr: f64, ms: f64) -> Row {
        Row {
            codec: codec.into(),
            setting: setting.into(),
            image: image.into(),
            n_images: 1,
            width: 10,
            height: 10,
            bytes: (bpp * 100.0 / 8.0) as u64,
            bpp,
            psnr,
            ms_ssim: Some(ms),
            ms_ssim_db: ms_ssim_db(ms),
            encode_ms: 1.0,
            decode_ms: 2.0,
        }
    }

    #[test]
    fn means_and_bd_rates_of_a_scaled_curve() {
        let mut rows = Vec::new();
        for (i, q) in [(0, 28.0), (1, 30.0), (2, 32.0), (3, 34.0)] {
            let bpp = 0.2 * (1.0 + i as f64);
            for img in ["a", "b"] {
                rows.push(row(
                    "jpeg",
                    &format!("q={i}"),
                    img,
                    bpp,
                    q,
                    0.9 + 0.02 * i as f64,
                ));
                rows.push(row(
                    "cvq",
                    &format!("q{i}"),
                    img,
                    0.5 * bpp,
                    q,
                    0.9 + 0.02 * i as f64,
                ));
            }
        }
        let results = BenchResults {
            data: "x".into(),
            images: vec!["a".into(), "b".into()],
            codecs: vec![],
            cvq_models: vec![],
            rows,
            failures: vec![],
        };
        let a = analyse(&results);
        assert_eq!(a.means.len(), 8);
        assert_eq!(a.means[0].n_images, 2);
        assert_eq!(a.bd_rate.len(), 2);
        for e in &a.bd_rate {
            assert!((e.pchip.percent.unwrap() + 50.0).abs() < 1e-6, "{e:?}");
            assert!((e.cubic.percent.unwrap() + 50.0).abs() < 1e-6, "{e:?}");
        }
        assert!(bd_table(&a).contains("-50.0 %"));
        assert_eq!(a.speed.len(), 2);
        assert!(mean_table(&a).contains("| jpeg | q=0 | 2 |"));
    }
}
