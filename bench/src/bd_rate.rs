//! Bjøntegaard delta rate (BD-rate): the average bit-rate difference of a test curve
//! against an anchor curve at equal quality, in percent (negative: the test needs fewer
//! bits).
//!
//! Both curves are `(rate, quality)` points (rate in bpp, quality in dB). The log of the
//! rate is interpolated as a function of the quality and integrated over the interval where
//! both curves have quality values; the mean log-rate difference `Δ` gives
//! `BD-rate = (exp(Δ) − 1) · 100 %`. Two interpolations:
//!
//! - [`BdMethod::Pchip`]: piecewise cubic Hermite interpolation (Fritsch–Carlson
//!   derivatives, the same as SciPy's `PchipInterpolator`), integrated exactly — the method
//!   of the current JVET common-test-condition sheets and of CompressAI's evaluation.
//! - [`BdMethod::Cubic`]: the original VCEG-M33 least-squares cubic polynomial; needs at
//!   least 4 points per curve.
//!
//! Nothing is extrapolated: curves whose quality ranges do not overlap give
//! [`BdUnavailable::NoOverlap`].

use serde::Serialize;

/// Interpolation used for BD-rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BdMethod {
    /// Piecewise cubic Hermite interpolation (PCHIP) of log-rate over quality.
    Pchip,
    /// Least-squares cubic polynomial of log-rate over quality (VCEG-M33).
    Cubic,
}

/// Why a BD-rate cannot be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum BdUnavailable {
    /// A curve has fewer points than the method needs (2 for PCHIP, 4 for the cubic fit).
    #[error("too few points (need {need})")]
    TooFewPoints {
        /// Points the method needs per curve.
        need: usize,
    },
    /// A rate is not positive, a value is not finite, or two points share a quality.
    #[error("degenerate curve")]
    Degenerate,
    /// The quality ranges of the two curves do not overlap.
    #[error("no overlap")]
    NoOverlap,
}

/// BD-rate of `test` against `anchor` in percent, or `None` (see [`bd_rate_checked`]).
pub fn bd_rate(anchor: &[(f64, f64)], test: &[(f64, f64)], method: BdMethod) -> Option<f64> {
    bd_rate_checked(anchor, test, method).ok()
}

/// BD-rate of `test` against `anchor` in percent; points are `(rate, quality)` in any
/// order.
///
/// # Errors
///
/// [`BdUnavailable`]: too few points, a degenerate curve, or no quality overlap.
pub fn bd_rate_checked(
    anchor: &[(f64, f64)],
    test: &[(f64, f64)],
    method: BdMethod,
) -> Result<f64, BdUnavailable> {
    let need = match method {
        BdMethod::Pchip => 2,
        BdMethod::Cubic => 4,
    };
    let a = prepare(anchor, need)?;
    let t = prepare(test, need)?;
    let lo = a.0[0].max(t.0[0]);
    let hi = a.0[a.0.len() - 1].min(t.0[t.0.len() - 1]);
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return Err(BdUnavailable::NoOverlap);
    }
    let (ia, it) = match method {
        BdMethod::Pchip => (
            Pchip::new(&a.0, &a.1).integral(lo, hi),
            Pchip::new(&t.0, &t.1).integral(lo, hi),
        ),
        BdMethod::Cubic => (
            Cubic::fit(&a.0, &a.1)
                .ok_or(BdUnavailable::Degenerate)?
                .integral(lo, hi),
            Cubic::fit(&t.0, &t.1)
                .ok_or(BdUnavailable::Degenerate)?
                .integral(lo, hi),
        ),
    };
    let mean_diff = (it - ia) / (hi - lo);
    let r = (mean_diff.exp() - 1.0) * 100.0;
    if r.is_finite() {
        Ok(r)
    } else {
        Err(BdUnavailable::Degenerate)
    }
}

/// Sorts by quality and returns `(quality, ln rate)` columns.
fn prepare(points: &[(f64, f64)], need: usize) -> Result<(Vec<f64>, Vec<f64>), BdUnavailable> {
    if points.len() < need {
        return Err(BdUnavailable::TooFewPoints { need });
    }
    if points
        .iter()
        .any(|&(r, q)| !(r.is_finite() && q.is_finite() && r > 0.0))
    {
        return Err(BdUnavailable::Degenerate);
    }
    let mut p: Vec<(f64, f64)> = points.iter().map(|&(r, q)| (q, r.ln())).collect();
    p.sort_by(|x, y| x.0.total_cmp(&y.0));
    if p.windows(2).any(|w| w[1].0 <= w[0].0) {
        return Err(BdUnavailable::Degenerate);
    }
    Ok(p.into_iter().unzip())
}

/// A PCHIP interpolant through strictly increasing `x`.
struct Pchip<'a> {
    x: &'a [f64],
    y: &'a [f64],
    d: Vec<f64>,
}

impl<'a> Pchip<'a> {
    fn new(x: &'a [f64], y: &'a [f64]) -> Self {
        let n = x.len();
        let h: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
        let s: Vec<f64> = (0..n - 1).map(|k| (y[k + 1] - y[k]) / h[k]).collect();
        let mut d = vec![0.0; n];
        if n == 2 {
            d = vec![s[0], s[0]];
        } else {
            for k in 1..n - 1 {
                let (s0, s1) = (s[k - 1], s[k]);
                if s0 == 0.0 || s1 == 0.0 || s0.signum() != s1.signum() {
                    d[k] = 0.0;
                } else {
                    let w1 = 2.0 * h[k] + h[k - 1];
                    let w2 = h[k] + 2.0 * h[k - 1];
                    d[k] = (w1 + w2) / (w1 / s0 + w2 / s1);
                }
            }
            d[0] = edge(h[0], h[1], s[0], s[1]);
            d[n - 1] = edge(h[n - 2], h[n - 3], s[n - 2], s[n - 3]);
        }
        Self { x, y, d }
    }

    /// Exact integral over `[lo, hi]` (inside the data range).
    fn integral(&self, lo: f64, hi: f64) -> f64 {
        let mut total = 0.0;
        for k in 0..self.x.len() - 1 {
            let (x0, x1) = (self.x[k], self.x[k + 1]);
            let a = lo.max(x0);
            let b = hi.min(x1);
            if b <= a {
                continue;
            }
            let h = x1 - x0;
            let s = (self.y[k + 1] - self.y[k]) / h;
            let (d0, d1) = (self.d[k], self.d[k + 1]);
            // p(t) = y0 + d0 t + c2 t² + c3 t³, t = x − x0
            let c2 = (3.0 * s - 2.0 * d0 - d1) / h;
            let c3 = (d0 + d1 - 2.0 * s) / (h * h);
            let prim = |t: f64| {
                self.y[k] * t + d0 * t * t / 2.0 + c2 * t.powi(3) / 3.0 + c3 * t.powi(4) / 4.0
            };
            total += prim(b - x0) - prim(a - x0);
        }
        total
    }
}

/// SciPy's one-sided three-point end derivative, shape-preserving.
fn edge(h0: f64, h1: f64, s0: f64, s1: f64) -> f64 {
    let d = ((2.0 * h0 + h1) * s0 - h0 * s1) / (h0 + h1);
    if d.signum() != s0.signum() || d == 0.0 || s0 == 0.0 {
        0.0
    } else if s0.signum() != s1.signum() && d.abs() > 3.0 * s0.abs() {
        3.0 * s0
    } else {
        d
    }
}

/// A least-squares cubic in a normalised variable `u = (x − m) / σ`.
struct Cubic {
    m: f64,
    sigma: f64,
    c: [f64; 4],
}

impl Cubic {
    fn fit(x: &[f64], y: &[f64]) -> Option<Self> {
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        let sigma = (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt();
        if sigma <= 0.0 {
            return None;
        }
        // Normal equations AᵀA c = Aᵀy with the Vandermonde matrix of u.
        let mut ata = [[0.0f64; 5]; 4];
        for (&xi, &yi) in x.iter().zip(y) {
            let u = (xi - m) / sigma;
            let pw = [1.0, u, u * u, u * u * u];
            for r in 0..4 {
                for c in 0..4 {
                    ata[r][c] += pw[r] * pw[c];
                }
                ata[r][4] += pw[r] * yi;
            }
        }
        let c = solve4(ata)?;
        Some(Self { m, sigma, c })
    }

    fn integral(&self, lo: f64, hi: f64) -> f64 {
        // ∫ p(u(x)) dx = σ ∫ p(u) du
        let prim = |x: f64| {
            let u = (x - self.m) / self.sigma;
            self.c
                .iter()
                .enumerate()
                .map(|(k, ck)| ck * u.powi(k as i32 + 1) / (k as f64 + 1.0))
                .sum::<f64>()
        };
        self.sigma * (prim(hi) - prim(lo))
    }
}

/// Gaussian elimination with partial pivoting on an augmented 4×5 matrix.
fn solve4(mut a: [[f64; 5]; 4]) -> Option<[f64; 4]> {
    for col in 0..4 {
        let piv = (col..4).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        let pivot = a[col];
        for row in a.iter_mut().skip(col + 1) {
            let f = row[col] / pivot[col];
            for (x, p) in row.iter_mut().zip(pivot).skip(col) {
                *x -= f * p;
            }
        }
    }
    let mut out = [0.0; 4];
    for r in (0..4).rev() {
        let tail: f64 = (r + 1..4).map(|c| a[r][c] * out[c]).sum();
        out[r] = (a[r][4] - tail) / a[r][r];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG-like curve: bpp and PSNR.
    fn anchor() -> Vec<(f64, f64)> {
        vec![
            (0.12, 24.1),
            (0.25, 26.9),
            (0.41, 28.8),
            (0.62, 30.4),
            (0.90, 32.0),
            (1.30, 33.9),
        ]
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}");
    }

    #[test]
    fn identical_curves_give_zero() {
        for m in [BdMethod::Pchip, BdMethod::Cubic] {
            close(bd_rate(&anchor(), &anchor(), m).unwrap(), 0.0);
        }
    }

    #[test]
    fn rates_times_point_nine_give_minus_ten_percent() {
        let test: Vec<_> = anchor().iter().map(|&(r, q)| (0.9 * r, q)).collect();
        for m in [BdMethod::Pchip, BdMethod::Cubic] {
            close(bd_rate(&anchor(), &test, m).unwrap(), -10.0);
            // and the reverse direction
            close(bd_rate(&test, &anchor(), m).unwrap(), 100.0 / 9.0);
        }
    }

    #[test]
    fn order_of_points_does_not_matter() {
        let mut shuffled = anchor();
        shuffled.reverse();
        shuffled.swap(1, 3);
        let test: Vec<_> = anchor().iter().map(|&(r, q)| (r * 1.2, q + 0.3)).collect();
        for m in [BdMethod::Pchip, BdMethod::Cubic] {
            close(
                bd_rate(&shuffled, &test, m).unwrap(),
                bd_rate(&anchor(), &test, m).unwrap(),
            );
        }
    }

    #[test]
    fn better_curve_is_negative_and_methods_agree_roughly() {
        // same rates, +1 dB everywhere: fewer bits needed at equal quality
        let test: Vec<_> = anchor().iter().map(|&(r, q)| (r, q + 1.0)).collect();
        let p = bd_rate(&anchor(), &test, BdMethod::Pchip).unwrap();
        let c = bd_rate(&anchor(), &test, BdMethod::Cubic).unwrap();
        assert!(p < -5.0 && c < -5.0, "{p} {c}");
        assert!((p - c).abs() < 3.0, "{p} {c}");
    }

    #[test]
    fn non_overlapping_curves_give_none() {
        let test: Vec<_> = anchor().iter().map(|&(r, q)| (r, q + 20.0)).collect();
        for m in [BdMethod::Pchip, BdMethod::Cubic] {
            assert_eq!(
                bd_rate_checked(&anchor(), &test, m),
                Err(BdUnavailable::NoOverlap)
            );
            assert_eq!(bd_rate(&anchor(), &test, m), None);
        }
    }

    #[test]
    fn too_few_points_give_none() {
        let three = &anchor()[..3];
        assert_eq!(
            bd_rate_checked(&anchor(), three, BdMethod::Cubic),
            Err(BdUnavailable::TooFewPoints { need: 4 })
        );
        // PCHIP works with 3 (and 2) points
        assert!(bd_rate(&anchor(), three, BdMethod::Pchip).is_some());
        assert!(bd_rate(&anchor(), &anchor()[..2], BdMethod::Pchip).is_some());
        assert_eq!(
            bd_rate(&anchor(), &anchor()[..1], BdMethod::Pchip),
            None,
            "one point is not a curve"
        );
        assert_eq!(bd_rate(&anchor(), &[], BdMethod::Pchip), None);
    }

    #[test]
    fn degenerate_curves_give_none() {
        let mut dup = anchor();
        dup[1].1 = dup[0].1;
        assert_eq!(
            bd_rate_checked(&anchor(), &dup, BdMethod::Pchip),
            Err(BdUnavailable::Degenerate)
        );
        let mut zero = anchor();
        zero[0].0 = 0.0;
        assert_eq!(bd_rate(&anchor(), &zero, BdMethod::Pchip), None);
        let mut nan = anchor();
        nan[2].1 = f64::NAN;
        assert_eq!(bd_rate(&anchor(), &nan, BdMethod::Cubic), None);
    }

    #[test]
    fn pchip_reproduces_a_line_exactly() {
        // log-rate linear in quality → the interpolant is the line itself
        let x = [1.0, 2.0, 4.0, 7.0];
        let y = [0.5, 1.0, 2.0, 3.5];
        let p = Pchip::new(&x, &y);
        close(p.integral(1.0, 7.0), (0.5 + 3.5) / 2.0 * 6.0);
        close(p.integral(2.0, 3.0), 1.25);
        let c = Cubic::fit(&x, &y).unwrap();
        close(c.integral(2.0, 3.0), 1.25);
    }

    #[test]
    fn pchip_derivatives_follow_fritsch_carlson() {
        // Hand-computed with SciPy's PchipInterpolator formulas: h = [1, 2, 1],
        // slopes s = [1, 0.25, 2.5]; interior d = (w1 + w2) / (w1/s0 + w2/s1) gives
        // 9/21 and 9/18; the one-sided ends give 3.75/3 and 9.75/3.
        let x = [0.0, 1.0, 3.0, 4.0];
        let y = [0.0, 1.0, 1.5, 4.0];
        let p = Pchip::new(&x, &y);
        for (got, want) in p.d.iter().zip([1.25, 3.0 / 7.0, 0.5, 3.25]) {
            close(*got, want);
        }
    }
}
