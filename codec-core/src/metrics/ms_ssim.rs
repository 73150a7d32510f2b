//! SSIM and MS-SSIM in pure Rust (`f64`), matching `pytorch_msssim` 1.0.0.
//!
//! Per channel, with `data_range = 255`:
//! * 11-tap Gaussian window (sigma 1.5, coordinates `-5..=5`, normalised to
//!   sum 1 in `f32`, see [`ssim_window`]), applied separably as a *valid* convolution:
//!   an `H x W` plane gives `(H - 10) x (W - 10)` map values;
//! * `C1 = (0.01 * 255)^2`, `C2 = (0.03 * 255)^2`, `sigma^2 = E[x^2] - mu^2`;
//! * `cs = (2 s12 + C2) / (s1 + s2 + C2)`,
//!   `ssim = (2 mu1 mu2 + C1) / (mu1^2 + mu2^2 + C1) * cs`, averaged over the map.
//!
//! MS-SSIM uses 5 scales with [`MS_SSIM_WEIGHTS`]: scales 0..=3 contribute
//! `relu(cs)`, then both images are downsampled with a 2x2 average pool
//! (stride 2, zero padding `H % 2` / `W % 2` on both sides, always divided by 4,
//! like `avg_pool2d(count_include_pad=True)`); the last scale contributes
//! `relu(ssim)`. Per channel `prod(value_i ^ weight_i)`, then the mean over R, G, B.
//!
//! The filtering streams over the rows with `O(11 * width)` scratch buffers,
//! so memory is dominated by the `f64` planes themselves.

use super::{DATA_RANGE, MetricError, WINDOW_SIZE, check_rgb8};

/// Per-scale exponents of MS-SSIM (Wang et al. 2003), finest scale first.
pub const MS_SSIM_WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

/// Smallest allowed `min(width, height)` for MS-SSIM: the smaller side must be
/// greater than `(11 - 1) * 2^4 = 160`, as asserted by `pytorch_msssim`.
pub const MS_SSIM_MIN_SIDE: usize = (WINDOW_SIZE - 1) * (1 << (MS_SSIM_WEIGHTS.len() - 1)) + 1;

const C1: f64 = (0.01 * DATA_RANGE) * (0.01 * DATA_RANGE);
const C2: f64 = (0.03 * DATA_RANGE) * (0.03 * DATA_RANGE);

/// The Gaussian taps exactly as `pytorch_msssim` builds them in `f32`:
/// `g = exp(-c^2 / 4.5)` for `c = -5..=5`, divided by `g.sum()` (torch's
/// reduction yields the correctly rounded sum, `3.7592328`).
const WINDOW_F32: [f32; WINDOW_SIZE] = [
    0.0010283804,
    0.007598758,
    0.036000773,
    0.10936069,
    0.21300553,
    0.26601171,
    0.21300553,
    0.10936069,
    0.036000773,
    0.007598758,
    0.0010283804,
];

/// The normalised 1-D Gaussian window (11 taps, sigma 1.5).
///
/// These are the `f32` taps of `pytorch_msssim` widened to `f64` (it builds
/// the window with `torch.arange(..., dtype=torch.float)` and only then casts
/// it to the input dtype), so they sum to `1 - 3.07e-8`, not exactly 1. That
/// offset shifts `E[x^2] - mu^2` by ~`3e-8 * mu^2` and SSIM by up to ~1e-5,
/// so reproducing it is what makes the results agree with the reference to
/// ~1e-15 instead of ~1e-5.
pub fn ssim_window() -> [f64; WINDOW_SIZE] {
    WINDOW_F32.map(f64::from)
}

/// Single-scale SSIM (mean over R, G, B of the per-channel mean SSIM map),
/// as `pytorch_msssim.ssim(..., data_range=255)` (no clamping to >= 0).
///
/// # Errors
/// Buffer/size errors as [`super::mse_rgb8`]; [`MetricError::ImageTooSmall`]
/// if a side is shorter than the 11-pixel window.
pub fn ssim_rgb8(
    reference: &[u8],
    distorted: &[u8],
    width: usize,
    height: usize,
) -> Result<f64, MetricError> {
    check_rgb8(reference, distorted, width, height)?;
    check_min_side("SSIM", width, height, WINDOW_SIZE)?;
    let win = ssim_window();
    let mut total = 0.0;
    for channel in 0..3 {
        let x = Channel::rgb8(reference, width, height, channel);
        let y = Channel::rgb8(distorted, width, height, channel);
        total += ssim_cs(x, y, &win).0;
    }
    Ok(total / 3.0)
}

/// Multi-scale SSIM (5 scales, [`MS_SSIM_WEIGHTS`]) in `[0, 1]`, as
/// `pytorch_msssim.ms_ssim(..., data_range=255)`. Identical images give `1.0`.
///
/// # Errors
/// Buffer/size errors as [`super::mse_rgb8`]; [`MetricError::ImageTooSmall`]
/// unless `min(width, height) >= MS_SSIM_MIN_SIDE` (161).
pub fn ms_ssim_rgb8(
    reference: &[u8],
    distorted: &[u8],
    width: usize,
    height: usize,
) -> Result<f64, MetricError> {
    check_rgb8(reference, distorted, width, height)?;
    check_min_side("MS-SSIM", width, height, MS_SSIM_MIN_SIDE)?;
    let win = ssim_window();
    let mut total = 0.0;
    for channel in 0..3 {
        let x = Channel::rgb8(reference, width, height, channel);
        let y = Channel::rgb8(distorted, width, height, channel);
        total += ms_ssim_channel(x, y, &win);
    }
    Ok(total / 3.0)
}

pub(crate) fn check_min_side(
    metric: &'static str,
    width: usize,
    height: usize,
    min_side: usize,
) -> Result<(), MetricError> {
    if width.min(height) < min_side {
        return Err(MetricError::ImageTooSmall {
            metric,
            width,
            height,
            min_side,
        });
    }
    Ok(())
}

/// One channel as an owned row-major `f64` plane (a downsampled scale).
struct Plane {
    w: usize,
    h: usize,
    data: Vec<f64>,
}

/// Read-only view of one channel, readable row by row as `f64`.
#[derive(Clone, Copy)]
struct Channel<'a> {
    w: usize,
    h: usize,
    src: Source<'a>,
}

#[derive(Clone, Copy)]
enum Source<'a> {
    /// Channel `c` of an interleaved RGB8 buffer (read without a full copy).
    Rgb8 { data: &'a [u8], c: usize },
    /// A row-major `f64` plane.
    F64(&'a [f64]),
}

impl<'a> Channel<'a> {
    fn rgb8(data: &'a [u8], w: usize, h: usize, c: usize) -> Self {
        Self {
            w,
            h,
            src: Source::Rgb8 { data, c },
        }
    }

    fn plane(p: &'a Plane) -> Self {
        Self {
            w: p.w,
            h: p.h,
            src: Source::F64(&p.data),
        }
    }

    /// Row `i`: borrowed from an `f64` plane, or converted into `buf` (len `w`).
    fn row<'b>(&self, i: usize, buf: &'b mut [f64]) -> &'b [f64]
    where
        'a: 'b,
    {
        match self.src {
            Source::F64(data) => &data[i * self.w..][..self.w],
            Source::Rgb8 { data, c } => {
                let row = &data[i * self.w * 3..][..self.w * 3];
                for (d, px) in buf.iter_mut().zip(row.chunks_exact(3)) {
                    *d = f64::from(px[c]);
                }
                buf
            }
        }
    }

    /// `avg_pool2d(kernel 2, stride 2, padding [h % 2, w % 2], count_include_pad)`.
    ///
    /// Output row `i` covers input rows `2i - ph` and `2i + 1 - ph` (row `-1` is
    /// zero padding; the bottom/right padding is never reached), likewise for
    /// columns; every sum is divided by 4.
    fn downsample(&self) -> Plane {
        let (ph, pw) = (self.h % 2, self.w % 2);
        let (oh, ow) = (self.h / 2 + ph, self.w / 2 + pw);
        let mut out = Vec::with_capacity(oh * ow);
        let (mut top_buf, mut bot_buf) = (vec![0.0; self.w], vec![0.0; self.w]);
        let zeros = vec![0.0; self.w];
        for i in 0..oh {
            let top = match (2 * i).checked_sub(ph) {
                Some(r) => self.row(r, &mut top_buf),
                None => &zeros,
            };
            let bot = self.row(2 * i + 1 - ph, &mut bot_buf);
            // Column pairs (c0, c1) = (2j - pw, 2j + 1 - pw); c0 = -1 is padding.
            if pw == 1 {
                out.push((top[0] + bot[0]) / 4.0);
            }
            let pairs = top[pw..].chunks_exact(2).zip(bot[pw..].chunks_exact(2));
            out.extend(pairs.map(|(t, b)| (t[0] + t[1] + b[0] + b[1]) / 4.0));
        }
        debug_assert_eq!(out.len(), oh * ow);
        Plane {
            w: ow,
            h: oh,
            data: out,
        }
    }
}

/// MS-SSIM of one channel.
fn ms_ssim_channel(x: Channel<'_>, y: Channel<'_>, win: &[f64; WINDOW_SIZE]) -> f64 {
    let last = MS_SSIM_WEIGHTS.len() - 1;
    let mut prod = 1.0;
    let mut scaled: Option<(Plane, Plane)> = None;
    for (level, &weight) in MS_SSIM_WEIGHTS.iter().enumerate() {
        let (xv, yv) = match &scaled {
            None => (x, y),
            Some((xp, yp)) => (Channel::plane(xp), Channel::plane(yp)),
        };
        let (ssim, cs) = ssim_cs(xv, yv, win);
        if level < last {
            prod *= cs.max(0.0).powf(weight);
            scaled = Some((xv.downsample(), yv.downsample()));
        } else {
            prod *= ssim.max(0.0).powf(weight);
        }
    }
    prod
}

/// Number of filtered maps per channel: x, y, x^2, y^2, x*y.
const MAPS: usize = 5;
/// Index of the centre tap of the (symmetric) window.
const MID: usize = WINDOW_SIZE / 2;

/// Symmetric 11-tap dot product: `sum_k win[k] * v[k]` with
/// `win[k] == win[10 - k]`, pairing taps to halve the multiplies.
#[inline(always)]
fn tap11(win: &[f64; WINDOW_SIZE], v: [f64; WINDOW_SIZE]) -> f64 {
    win[MID] * v[MID]
        + win[0] * (v[0] + v[10])
        + win[1] * (v[1] + v[9])
        + win[2] * (v[2] + v[8])
        + win[3] * (v[3] + v[7])
        + win[4] * (v[4] + v[6])
}

/// Horizontal valid filter: `dst[j] = sum_k win[k] * src[j + k]`.
fn filter_row(src: &[f64], dst: &mut [f64], win: &[f64; WINDOW_SIZE]) {
    for (d, s) in dst.iter_mut().zip(src.windows(WINDOW_SIZE)) {
        *d = tap11(win, std::array::from_fn(|k| s[k]));
    }
}

/// Vertical filter of 11 rows: `dst[j] = sum_k win[k] * rows[k][j]`.
fn filter_rows(rows: [&[f64]; WINDOW_SIZE], dst: &mut [f64], win: &[f64; WINDOW_SIZE]) {
    let n = dst.len();
    let rows = rows.map(|r| &r[..n]);
    for (j, d) in dst.iter_mut().enumerate() {
        *d = tap11(win, std::array::from_fn(|k| rows[k][j]));
    }
}

/// Means of the SSIM map and of the contrast-structure map of one channel.
///
/// Streams over the rows: each input row is turned into the five maps
/// (x, y, x^2, y^2, xy), filtered horizontally once and kept in an 11-row
/// ring buffer; every full ring gives one output row by vertical filtering,
/// which is reduced immediately. The result equals the reference's
/// vertical-then-horizontal valid convolution up to `f64` rounding (~1e-16).
fn ssim_cs(x: Channel<'_>, y: Channel<'_>, win: &[f64; WINDOW_SIZE]) -> (f64, f64) {
    let (w, h) = (x.w, x.h);
    debug_assert!(w == y.w && h == y.h && w >= WINDOW_SIZE && h >= WINDOW_SIZE);
    let (oh, ow) = (h + 1 - WINDOW_SIZE, w + 1 - WINDOW_SIZE);
    // Current input row (when converted from RGB8) and its products.
    let (mut x_buf, mut y_buf) = (vec![0.0; w], vec![0.0; w]);
    let mut xx = vec![0.0; w];
    let mut yy = vec![0.0; w];
    let mut xy = vec![0.0; w];
    // ring[m][slot * ow..][..ow]: map m of input row `slot (mod 11)`, filtered horizontally.
    let mut ring: [Vec<f64>; MAPS] = std::array::from_fn(|_| vec![0.0; WINDOW_SIZE * ow]);
    // Fully filtered maps of the current output row.
    let mut out: [Vec<f64>; MAPS] = std::array::from_fn(|_| vec![0.0; ow]);
    let (mut ssim_sum, mut cs_sum) = (0.0, 0.0);

    for i in 0..h {
        let xs = &x.row(i, &mut x_buf)[..w];
        let ys = &y.row(i, &mut y_buf)[..w];
        for ((((p, q), pq), &a), &b) in xx.iter_mut().zip(&mut yy).zip(&mut xy).zip(xs).zip(ys) {
            (*p, *q, *pq) = (a * a, b * b, a * b);
        }
        let slot = i % WINDOW_SIZE;
        for (src, ring_m) in [xs, ys, &xx, &yy, &xy].into_iter().zip(&mut ring) {
            filter_row(src, &mut ring_m[slot * ow..][..ow], win);
        }
        if i + 1 < WINDOW_SIZE {
            continue;
        }
        // Output row r = i - 10 uses input rows r..=i, in ring slots (r + k) % 11.
        let r = i + 1 - WINDOW_SIZE;
        for (ring_m, out_m) in ring.iter().zip(&mut out) {
            let rows: [&[f64]; WINDOW_SIZE] =
                std::array::from_fn(|k| &ring_m[((r + k) % WINDOW_SIZE) * ow..][..ow]);
            filter_rows(rows, out_m, win);
        }
        let [mx, my, mxx, myy, mxy] = &out;
        let (mx, my, mxx, myy, mxy) = (&mx[..ow], &my[..ow], &mxx[..ow], &myy[..ow], &mxy[..ow]);
        for j in 0..ow {
            let (mu1, mu2) = (mx[j], my[j]);
            let (mu1_sq, mu2_sq, mu12) = (mu1 * mu1, mu2 * mu2, mu1 * mu2);
            let s1 = mxx[j] - mu1_sq;
            let s2 = myy[j] - mu2_sq;
            let s12 = mxy[j] - mu12;
            let cs = (2.0 * s12 + C2) / (s1 + s2 + C2);
            ssim_sum += (2.0 * mu12 + C1) / (mu1_sq + mu2_sq + C1) * cs;
            cs_sum += cs;
        }
    }
    let n = (oh * ow) as f64;
    (ssim_sum / n, cs_sum / n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::WINDOW_SIGMA;

    fn pattern(w: usize, h: usize, seed: u32) -> Vec<u8> {
        let mut s = seed;
        (0..w * h * 3)
            .map(|i| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let smooth = ((i / 3) % w + (i / 3) / w) as u32;
                ((smooth + (s >> 28)) % 256) as u8
            })
            .collect()
    }

    #[test]
    fn window_matches_torch_construction() {
        // f32 taps, normalised by the correctly rounded f32 sum.
        let denom = (2.0 * WINDOW_SIGMA * WINDOW_SIGMA) as f32;
        let raw: [f32; WINDOW_SIZE] = std::array::from_fn(|i| {
            let c = i as f32 - (WINDOW_SIZE / 2) as f32;
            (-(c * c) / denom).exp()
        });
        let sum = raw.iter().map(|&v| f64::from(v)).sum::<f64>() as f32;
        assert_eq!(raw.map(|v| v / sum), WINDOW_F32);
        let g = ssim_window();
        assert!((g.iter().sum::<f64>() - 1.0).abs() < 1e-7);
        for k in 0..WINDOW_SIZE {
            assert_eq!(g[k], g[WINDOW_SIZE - 1 - k]);
        }
        assert_eq!(MS_SSIM_MIN_SIDE, 161);
    }

    #[test]
    fn identical_images_score_one() {
        let (w, h) = (170, 163);
        let img = pattern(w, h, 1);
        let ms = ms_ssim_rgb8(&img, &img, w, h).unwrap();
        assert!((ms - 1.0).abs() < 1e-12, "{ms}");
        let s = ssim_rgb8(&img, &img, w, h).unwrap();
        assert!((s - 1.0).abs() < 1e-12, "{s}");
    }

    #[test]
    fn distortion_lowers_score() {
        let (w, h) = (192, 161);
        let a = pattern(w, h, 1);
        let b = pattern(w, h, 2);
        let ms = ms_ssim_rgb8(&a, &b, w, h).unwrap();
        assert!(ms > 0.0 && ms < 1.0, "{ms}");
        let s = ssim_rgb8(&a, &b, w, h).unwrap();
        assert!(s < 1.0, "{s}");
    }

    /// Direct transcription of torch's `avg_pool2d` (kernel 2, stride 2,
    /// padding `p`, count_include_pad) for checking [`Channel::downsample`].
    fn avg_pool_reference(data: &[f64], w: usize, h: usize) -> Vec<f64> {
        let (ph, pw) = ((h % 2) as isize, (w % 2) as isize);
        let oh = (h as isize + 2 * ph - 2) / 2 + 1;
        let ow = (w as isize + 2 * pw - 2) / 2 + 1;
        let mut out = Vec::new();
        for i in 0..oh {
            for j in 0..ow {
                let mut sum = 0.0;
                for r in (2 * i - ph).max(0)..(2 * i - ph + 2).min(h as isize) {
                    for c in (2 * j - pw).max(0)..(2 * j - pw + 2).min(w as isize) {
                        sum += data[r as usize * w + c as usize];
                    }
                }
                out.push(sum / 4.0);
            }
        }
        out
    }

    #[test]
    fn downsample_matches_avg_pool_with_padding() {
        // 3x3, padding 1: windows start at -1 and 1.
        let p = Plane {
            w: 3,
            h: 3,
            data: (1..=9).map(f64::from).collect(),
        };
        let d = Channel::plane(&p).downsample();
        assert_eq!((d.w, d.h), (2, 2));
        assert_eq!(d.data, vec![0.25, 1.25, 2.75, 7.0]);
        for (w, h) in [(2, 2), (3, 2), (2, 3), (5, 7), (8, 5), (12, 13)] {
            let rgb = pattern(w, h, 7);
            for c in 0..3 {
                let plane = Plane {
                    w,
                    h,
                    data: rgb[c..].iter().step_by(3).map(|&v| f64::from(v)).collect(),
                };
                let expected = avg_pool_reference(&plane.data, w, h);
                let from_rgb = Channel::rgb8(&rgb, w, h, c).downsample();
                let from_plane = Channel::plane(&plane).downsample();
                assert_eq!((from_rgb.w, from_rgb.h), (w.div_ceil(2), h.div_ceil(2)));
                assert_eq!(from_rgb.data, expected, "{w}x{h}");
                assert_eq!(from_plane.data, expected, "{w}x{h}");
            }
        }
    }

    #[test]
    fn typed_errors() {
        let small = vec![0u8; 160 * 200 * 3];
        assert_eq!(
            ms_ssim_rgb8(&small, &small, 200, 160),
            Err(MetricError::ImageTooSmall {
                metric: "MS-SSIM",
                width: 200,
                height: 160,
                min_side: 161
            })
        );
        let tiny = vec![0u8; 10 * 20 * 3];
        assert!(matches!(
            ssim_rgb8(&tiny, &tiny, 20, 10),
            Err(MetricError::ImageTooSmall { metric: "SSIM", .. })
        ));
        assert!(matches!(
            ms_ssim_rgb8(&small, &small[1..], 200, 160),
            Err(MetricError::SizeMismatch { .. })
        ));
        assert!(matches!(
            ms_ssim_rgb8(&small, &small, 201, 160),
            Err(MetricError::BufferLength { .. })
        ));
        assert!(matches!(
            ssim_rgb8(&[], &[], 0, 0),
            Err(MetricError::EmptyImage { .. })
        ));
    }
}
