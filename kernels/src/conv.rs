//! 3×3 convolution (zero padding 1; stride 1, "same", or 2) and 1×1 convolution on
//! channels-last maps.

use crate::maps::Maps;
use crate::parallel::in_parallel;

/// Most output positions per matrix product.
const STRIP_POSITIONS: usize = 1024;

/// Bytes of im2col rows per product: `cargo bench -p cvq-kernels` was fastest here with
/// about 1 MiB (256 KiB–2 MiB tried).
const STRIP_BYTES: usize = 1 << 20;

/// Output positions per product for `cin` input channels: [`STRIP_POSITIONS`], fewer for
/// wide inputs so that the im2col rows stay within [`STRIP_BYTES`] (a multiple of 16, at
/// least 64). Every product of a layer has exactly this many rows — the last one of a
/// map is padded — so the matrix library blocks every product alike and a position's
/// value does not depend on the size of the map it lies in: a window of an image
/// computes the same bits as the whole image, which keeps tiled encoding's symbols
/// those of the whole. It is a function of the layer alone, never of the map.
fn strip_positions(cin: usize) -> usize {
    (STRIP_BYTES / (9 * cin * 4) / 16 * 16).clamp(64, STRIP_POSITIONS)
}

/// A pointwise non-linearity applied to a convolution's output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `x`.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `x` for `x ≥ 0`, `slope · x` otherwise.
    LeakyRelu(f32),
}

impl Activation {
    fn apply(self, values: &mut [f32]) {
        match self {
            Self::Identity => {}
            Self::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
            Self::LeakyRelu(slope) => values.iter_mut().for_each(|v| {
                if *v < 0.0 {
                    *v *= slope;
                }
            }),
        }
    }
}

/// A 3×3 convolution `cin → cout` with bias and zero padding 1: `h × w × cin →
/// ⌈h/s⌉ × ⌈w/s⌉ × cout` for stride `s` (1 unless [`Conv3x3::with_stride`]).
#[derive(Debug, Clone)]
pub struct Conv3x3 {
    cin: usize,
    cout: usize,
    stride: usize,
    /// `[(tap = 3·ky + kx, input channel), cout]`, row-major: the im2col order.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl Conv3x3 {
    /// From PyTorch/Burn weights `[cout, cin, 3, 3]` (row-major) and a bias `[cout]`
    /// (`None`: zeros).
    ///
    /// # Panics
    /// If the lengths do not match `cout`, `cin`.
    pub fn new(weight: &[f32], bias: Option<&[f32]>, cout: usize, cin: usize) -> Self {
        assert_eq!(
            weight.len(),
            cout * cin * 9,
            "weights of a 3×3 conv {cin}→{cout}"
        );
        let mut weights = vec![0.0; weight.len()];
        for o in 0..cout {
            for i in 0..cin {
                for tap in 0..9 {
                    weights[(tap * cin + i) * cout + o] = weight[(o * cin + i) * 9 + tap];
                }
            }
        }
        let bias = bias.map_or_else(|| vec![0.0; cout], <[f32]>::to_vec);
        assert_eq!(bias.len(), cout, "bias of a conv {cin}→{cout}");
        Self {
            cin,
            cout,
            stride: 1,
            weights,
            bias,
        }
    }

    /// The same convolution with stride `stride` (output position `(y, x)` sees input
    /// rows `s·y − 1 ..= s·y + 1` and columns likewise, as PyTorch's and Burn's strided
    /// convolutions with padding 1).
    ///
    /// # Panics
    /// If `stride` is 0.
    pub fn with_stride(mut self, stride: usize) -> Self {
        assert!(stride > 0, "a convolution's stride is at least 1");
        self.stride = stride;
        self
    }

    /// `act(residual + conv(x) + bias)` (`residual`: `⌈h/s⌉ × ⌈w/s⌉ × cout`, the output's
    /// size, when given), the strips of positions split among `threads` threads (1, and
    /// always on WebAssembly: on the calling thread, none spawned).
    ///
    /// # Panics
    /// If `x` does not have `cin` channels or `residual` is not the output's size.
    pub fn forward(
        &self,
        x: &Maps,
        residual: Option<&Maps>,
        act: Activation,
        threads: usize,
    ) -> Maps {
        assert_eq!(
            x.channels, self.cin,
            "conv {}→{} input",
            self.cin, self.cout
        );
        let (h, w) = (
            x.height.div_ceil(self.stride),
            x.width.div_ceil(self.stride),
        );
        let mut out = Maps::zeros(h, w, self.cout);
        if h == 0 || w == 0 {
            return out;
        }
        if let Some(r) = residual {
            assert_eq!(
                (r.height, r.width, r.channels),
                (h, w, self.cout),
                "residual"
            );
        }
        let m = strip_positions(self.cin);
        let k = 9 * self.cin;
        for_each_strip(&mut out, m, threads, |s, dst, (col, acc)| {
            let valid = dst.len();
            col.resize(m * k, 0.0);
            self.im2col(col, x, (w, s * m), valid / self.cout);
            product_into(
                dst,
                col,
                &self.weights,
                &self.bias,
                (m, k),
                acc,
                residual,
                s,
            );
            act.apply(dst);
        });
        out
    }

    /// The im2col rows of the `count` output positions from raster position `p0` of an
    /// output `out_w` positions wide: `[position, (tap, cin)]`, zeros where a tap falls
    /// outside the map; the rows of `col` past them are zeroed. Common channel counts
    /// copy fixed-size blocks (a call to `memcpy` per tap costs more than the copy).
    fn im2col(&self, col: &mut [f32], x: &Maps, (out_w, p0): (usize, usize), count: usize) {
        let k = 9 * self.cin;
        let at = Taps {
            out_w,
            p0,
            stride: self.stride,
        };
        match self.cin {
            4 => im2col_fixed::<4>(col, x, at, count),
            8 => im2col_fixed::<8>(col, x, at, count),
            12 => im2col_fixed::<12>(col, x, at, count),
            16 => im2col_fixed::<16>(col, x, at, count),
            32 => im2col_fixed::<32>(col, x, at, count),
            48 => im2col_fixed::<48>(col, x, at, count),
            64 => im2col_fixed::<64>(col, x, at, count),
            _ => im2col_any(col, x, at, count, self.cin),
        }
        col[count * k..].fill(0.0);
    }
}

/// Runs `strip(s, dst, scratch)` on every strip `s` of `m` positions of `out` (the last
/// one may be shorter), split among `threads` threads (1, and always on WebAssembly: on
/// the calling thread, none spawned). `scratch` is per thread, for the strip's operands.
fn for_each_strip(
    out: &mut Maps,
    m: usize,
    threads: usize,
    strip: impl Fn(usize, &mut [f32], &mut (Vec<f32>, Vec<f32>)) + Sync,
) {
    if out.data.is_empty() {
        return;
    }
    let strips: Vec<&mut [f32]> = out.data.chunks_mut(m * out.channels).collect();
    // strips dealt round-robin to at most `threads` shares, each with its own scratch
    let threads = threads.clamp(1, strips.len());
    let mut shares: Vec<Vec<(usize, &mut [f32])>> = (0..threads).map(|_| Vec::new()).collect();
    for (s, dst) in strips.into_iter().enumerate() {
        shares[s % threads].push((s, dst));
    }
    in_parallel(threads, shares, |share| {
        let mut scratch = (Vec::new(), Vec::new());
        for (s, dst) in share {
            strip(s, dst, &mut scratch);
        }
    });
}

/// `dst = residual + lhs · weights + bias` for strip `s` of `m` rows (`lhs`: `m × k`,
/// zero rows past the strip's `dst.len() / n` positions; `weights`: `k × n` with
/// `n = bias.len()`): one product of exactly `m` rows, whatever the strip's length.
#[allow(clippy::too_many_arguments)]
fn product_into(
    dst: &mut [f32],
    lhs: &[f32],
    weights: &[f32],
    bias: &[f32],
    (m, k): (usize, usize),
    acc: &mut Vec<f32>,
    residual: Option<&Maps>,
    s: usize,
) {
    let n = bias.len();
    let valid = dst.len();
    acc.resize(m * n, 0.0);
    // The product adds onto the residual, or overwrites the strip.
    if let Some(r) = residual {
        let at = s * m * n;
        acc[..valid].copy_from_slice(&r.data[at..at + valid]);
        acc[valid..].fill(0.0);
    }
    matmul_add(acc, lhs, weights, m, k, n, residual.is_some());
    for (values, sums) in dst.chunks_exact_mut(n).zip(acc.chunks_exact(n)) {
        for ((v, b), a) in values.iter_mut().zip(bias).zip(sums) {
            *v = a + b;
        }
    }
}

/// A 1×1 convolution `cin → cout` with bias (a product per position):
/// `h × w × cin → h × w × cout`.
#[derive(Debug, Clone)]
pub struct Conv1x1 {
    cin: usize,
    /// `[cin, cout]`, row-major.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl Conv1x1 {
    /// From PyTorch/Burn weights `[cout, cin, 1, 1]` (row-major) and a bias `[cout]`
    /// (`None`: zeros).
    ///
    /// # Panics
    /// If the lengths do not match `cout`, `cin`.
    pub fn new(weight: &[f32], bias: Option<&[f32]>, cout: usize, cin: usize) -> Self {
        assert_eq!(
            weight.len(),
            cout * cin,
            "weights of a 1×1 conv {cin}→{cout}"
        );
        let mut weights = vec![0.0; weight.len()];
        for o in 0..cout {
            for i in 0..cin {
                weights[i * cout + o] = weight[o * cin + i];
            }
        }
        let bias = bias.map_or_else(|| vec![0.0; cout], <[f32]>::to_vec);
        assert_eq!(bias.len(), cout, "bias of a conv {cin}→{cout}");
        Self { cin, weights, bias }
    }

    /// `act(residual + conv(x) + bias)`, as [`Conv3x3::forward`].
    ///
    /// # Panics
    /// If `x` does not have `cin` channels or `residual` is not `h × w × cout`.
    pub fn forward(
        &self,
        x: &Maps,
        residual: Option<&Maps>,
        act: Activation,
        threads: usize,
    ) -> Maps {
        let cout = self.bias.len();
        assert_eq!(x.channels, self.cin, "conv {}→{cout} input", self.cin);
        let mut out = Maps::zeros(x.height, x.width, cout);
        if let Some(r) = residual {
            assert_eq!(
                (r.height, r.width, r.channels),
                (x.height, x.width, cout),
                "residual"
            );
        }
        let m = STRIP_POSITIONS;
        for_each_strip(&mut out, m, threads, |s, dst, (rows, acc)| {
            let count = dst.len() / cout;
            let at = s * m * self.cin;
            rows.clear();
            rows.extend_from_slice(&x.data[at..at + count * self.cin]);
            rows.resize(m * self.cin, 0.0);
            product_into(
                dst,
                rows,
                &self.weights,
                &self.bias,
                (m, self.cin),
                acc,
                residual,
                s,
            );
            act.apply(dst);
        });
        out
    }
}

/// Where [`Conv3x3::im2col`]'s rows start: raster position `p0` of an output `out_w`
/// positions wide, whose taps step `stride` input positions per output position.
#[derive(Debug, Clone, Copy)]
struct Taps {
    out_w: usize,
    p0: usize,
    stride: usize,
}

impl Taps {
    /// The input row and column of the centre tap of row `i` (output position
    /// `p0 + i`); tap `3·ky + kx` reads `(y + ky − 1, x + kx − 1)` of it ([`tap`]).
    #[inline]
    fn centre(self, i: usize) -> (usize, usize) {
        let p = self.p0 + i;
        (
            (p / self.out_w) * self.stride,
            (p % self.out_w) * self.stride,
        )
    }
}

/// The input position of tap `tap` (`3·ky + kx`) around `(y, x)`, wrapped past
/// `usize::MAX` where it falls before the map, so that one `<` test catches both sides.
#[inline]
fn tap((y, x): (usize, usize), tap: usize) -> (usize, usize) {
    ((y + tap / 3).wrapping_sub(1), (x + tap % 3).wrapping_sub(1))
}

/// [`Conv3x3::im2col`] for `C` input channels.
fn im2col_fixed<const C: usize>(col: &mut [f32], x: &Maps, at: Taps, count: usize) {
    let (h, w) = (x.height, x.width);
    for (i, taps) in col[..count * 9 * C].chunks_exact_mut(9 * C).enumerate() {
        let centre = at.centre(i);
        for (t, dst) in taps.chunks_exact_mut(C).enumerate() {
            let dst: &mut [f32; C] = dst.try_into().expect("C values");
            let (yy, xx) = tap(centre, t);
            if yy < h && xx < w {
                let at = (yy * w + xx) * C;
                *dst = x.data[at..at + C].try_into().expect("C values");
            } else {
                *dst = [0.0; C];
            }
        }
    }
}

/// [`Conv3x3::im2col`] for any channel count.
fn im2col_any(col: &mut [f32], x: &Maps, at: Taps, count: usize, c: usize) {
    let (h, w) = (x.height, x.width);
    for (i, taps) in col[..count * 9 * c].chunks_exact_mut(9 * c).enumerate() {
        let centre = at.centre(i);
        for (t, dst) in taps.chunks_exact_mut(c).enumerate() {
            let (yy, xx) = tap(centre, t);
            if yy < h && xx < w {
                let at = (yy * w + xx) * c;
                dst.copy_from_slice(&x.data[at..at + c]);
            } else {
                dst.fill(0.0);
            }
        }
    }
}

/// `dst[m×n] (+)= lhs[m×k] · rhs[k×n]`, all row-major, on the calling thread: added to
/// `dst` when `accumulate`, else written over it.
///
/// # Panics
/// If a slice is shorter than its matrix.
fn matmul_add(
    dst: &mut [f32],
    lhs: &[f32],
    rhs: &[f32],
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
) {
    assert!(dst.len() >= m * n && lhs.len() >= m * k && rhs.len() >= k * n);
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // SAFETY: the three slices hold the row-major matrices the strides describe (lengths
    // checked above); `dst` is a unique borrow, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::tests::values;

    /// The convolution by its definition with `stride`, channels-first in and out:
    /// `⌈h/s⌉ × ⌈w/s⌉` out.
    fn direct(
        planes: &[f32],
        weight: &[f32],
        bias: &[f32],
        cin: usize,
        (h, w): (usize, usize),
        stride: usize,
    ) -> Vec<f32> {
        let cout = bias.len();
        let (ho, wo) = (h.div_ceil(stride), w.div_ceil(stride));
        let mut out = vec![0f32; cout * ho * wo];
        for o in 0..cout {
            for y in 0..ho {
                for x in 0..wo {
                    let mut acc = f64::from(bias[o]);
                    for i in 0..cin {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (yy, xx) = (
                                    (y * stride + ky).wrapping_sub(1),
                                    (x * stride + kx).wrapping_sub(1),
                                );
                                if yy < h && xx < w {
                                    acc += f64::from(weight[((o * cin + i) * 3 + ky) * 3 + kx])
                                        * f64::from(planes[(i * h + yy) * w + xx]);
                                }
                            }
                        }
                    }
                    out[(o * ho + y) * wo + x] = acc as f32;
                }
            }
        }
        out
    }

    /// Stride 1 and 2 (the decoder's and the encoder's), odd and even sizes, one position
    /// and tall strips, 3, 32, 64 and 128 input channels (the last two on the fixed-size
    /// and the any-count im2col paths): the definition within 1e-4, the same bits on 1
    /// and 3 threads, and the residual and activation fused as added afterwards.
    #[test]
    fn matches_the_definition_with_stride_residual_activation_and_threads() {
        let sizes = [
            (3, 5, 7, 9),
            (8, 32, 1, 1),
            (4, 12, 2, 1),
            (16, 8, 40, 70),
            (2, 3, 130, 3),
            (3, 8, 9, 7),
            (32, 16, 8, 8),
            (64, 8, 5, 6),
            (128, 4, 4, 3),
            (4, 6, 70, 2),
        ];
        for stride in [1, 2] {
            for (cin, cout, h, w) in sizes {
                let planes = values(cin * h * w, 1);
                let weight = values(cout * cin * 9, 2);
                let bias = values(cout, 3);
                let conv = Conv3x3::new(&weight, Some(&bias), cout, cin).with_stride(stride);
                let x = Maps::from_planes(&planes, cin, h, w);
                let (ho, wo) = (h.div_ceil(stride), w.div_ceil(stride));
                let plain = conv.forward(&x, None, Activation::Identity, 1);
                assert_eq!((plain.height, plain.width, plain.channels), (ho, wo, cout));
                let err = plain
                    .to_planes()
                    .iter()
                    .zip(&direct(&planes, &weight, &bias, cin, (h, w), stride))
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(err < 1e-4, "{cin}→{cout} {h}×{w} /{stride}: {err}");
                // Threads split rows, never sums: the same bits.
                assert_eq!(conv.forward(&x, None, Activation::Identity, 3), plain);
                let residual = Maps::from_planes(&values(cout * ho * wo, 4), cout, ho, wo);
                let fused = conv.forward(&x, Some(&residual), Activation::LeakyRelu(0.1), 2);
                for ((f, p), r) in fused.data.iter().zip(&plain.data).zip(&residual.data) {
                    let v = p + r;
                    let v = if v < 0.0 { v * 0.1 } else { v };
                    assert!((f - v).abs() < 1e-5, "/{stride}: {f} vs {v}");
                }
                let relu = conv.forward(&x, None, Activation::Relu, 1);
                assert!(
                    relu.data
                        .iter()
                        .zip(&plain.data)
                        .all(|(r, p)| *r == p.max(0.0))
                );
            }
        }
    }

    #[test]
    fn the_1x1_convolution_matches_its_definition_with_residual_and_threads() {
        for (cin, cout, h, w) in [(3, 5, 7, 9), (128, 512, 3, 4), (2, 3, 40, 70), (8, 1, 1, 1)] {
            let planes = values(cin * h * w, 1);
            let weight = values(cout * cin, 2);
            let bias = values(cout, 3);
            let conv = Conv1x1::new(&weight, Some(&bias), cout, cin);
            let x = Maps::from_planes(&planes, cin, h, w);
            let plain = conv.forward(&x, None, Activation::Identity, 1);
            for (p, got) in plain.data.chunks_exact(cout).enumerate() {
                for (o, g) in got.iter().enumerate() {
                    let v: f64 = f64::from(bias[o])
                        + (0..cin)
                            .map(|i| {
                                f64::from(weight[o * cin + i]) * f64::from(x.data[p * cin + i])
                            })
                            .sum::<f64>();
                    assert!((f64::from(*g) - v).abs() < 1e-4, "{cin}→{cout}: {g} vs {v}");
                }
            }
            assert_eq!(conv.forward(&x, None, Activation::Identity, 3), plain);
            let residual = Maps::from_planes(&values(cout * h * w, 4), cout, h, w);
            let fused = conv.forward(&x, Some(&residual), Activation::Relu, 2);
            for ((f, p), r) in fused.data.iter().zip(&plain.data).zip(&residual.data) {
                assert!((f - (p + r).max(0.0)).abs() < 1e-5, "{f}");
            }
        }
    }

    /// A window of a map computes its inside (the positions whose 3×3 neighbourhood
    /// lies in the window) with the same bits as the whole map, also where the product's
    /// depth (9 · 192) is blocked by the matrix library.
    #[test]
    fn a_window_computes_the_same_bits_as_the_whole_map() {
        let (cin, cout, h, w) = (192, 48, 23, 61);
        let planes = values(cin * h * w, 6);
        let conv = Conv3x3::new(
            &values(cout * cin * 9, 7),
            Some(&values(cout, 8)),
            cout,
            cin,
        );
        let whole = conv.forward(
            &Maps::from_planes(&planes, cin, h, w),
            None,
            Activation::Identity,
            2,
        );
        let (rows, cols) = (4..19, 9..50);
        let mut window = Maps::zeros(rows.len(), cols.len(), cin);
        for (i, y) in rows.clone().enumerate() {
            for (j, x) in cols.clone().enumerate() {
                for c in 0..cin {
                    window.data[(i * cols.len() + j) * cin + c] = planes[(c * h + y) * w + x];
                }
            }
        }
        let part = conv.forward(&window, None, Activation::Identity, 1);
        for (i, y) in rows.clone().enumerate().skip(1).take(rows.len() - 2) {
            for (j, x) in cols.clone().enumerate().skip(1).take(cols.len() - 2) {
                let a = &whole.data[(y * w + x) * cout..][..cout];
                let b = &part.data[(i * cols.len() + j) * cout..][..cout];
                assert!(a == b, "({y}, {x})");
            }
        }
    }

    #[test]
    fn an_empty_map_stays_empty() {
        let conv = Conv3x3::new(&values(2 * 3 * 9, 5), None, 2, 3);
        let y = conv.forward(&Maps::zeros(0, 4, 3), None, Activation::Relu, 2);
        assert_eq!((y.height, y.width, y.channels, y.data.len()), (0, 4, 2, 0));
    }
}
