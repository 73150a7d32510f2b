//! 3×3 "same" convolution (stride 1, zero padding 1) on channels-last maps.

use crate::maps::Maps;

/// Output positions per matrix product: one strip of rows this wide or a little more
/// (about 1024 positions keep the im2col strip of a 32-channel layer in L2).
const STRIP_POSITIONS: usize = 1024;

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

/// A 3×3 convolution `cin → cout` with bias, stride 1 and zero padding 1:
/// `h × w × cin → h × w × cout`.
#[derive(Debug, Clone)]
pub struct Conv3x3 {
    cin: usize,
    cout: usize,
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
            weights,
            bias,
        }
    }

    /// Input channels.
    pub fn input_channels(&self) -> usize {
        self.cin
    }

    /// Output channels.
    pub fn output_channels(&self) -> usize {
        self.cout
    }

    /// `act(conv(x) + bias + residual)` (`residual`: `h × w × cout` when given), the
    /// rows split among `threads` threads (1: on the calling thread, none spawned).
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
        assert_eq!(
            x.channels, self.cin,
            "conv {}→{} input",
            self.cin, self.cout
        );
        let (h, w) = (x.height, x.width);
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
        let rows = STRIP_POSITIONS.div_ceil(w).max(1);
        let strip = |s: usize, dst: &mut [f32], col: &mut Vec<f32>| {
            let y0 = s * rows;
            let n = dst.len() / self.cout;
            let at = y0 * w * self.cout;
            match residual {
                Some(r) => {
                    let len = dst.len();
                    for ((d, v), b) in dst
                        .iter_mut()
                        .zip(&r.data[at..at + len])
                        .zip(self.bias.iter().cycle())
                    {
                        *d = v + b;
                    }
                }
                None => {
                    for d in dst.chunks_exact_mut(self.cout) {
                        d.copy_from_slice(&self.bias);
                    }
                }
            }
            col.resize(n * 9 * self.cin, 0.0);
            self.im2col(col, x, y0, n / w);
            matmul_add(dst, col, &self.weights, n, 9 * self.cin, self.cout);
            act.apply(dst);
        };
        let strips: Vec<&mut [f32]> = out.data.chunks_mut(rows * w * self.cout).collect();
        let threads = threads.clamp(1, strips.len());
        if threads == 1 {
            let mut col = Vec::new();
            for (s, dst) in strips.into_iter().enumerate() {
                strip(s, dst, &mut col);
            }
        } else {
            let mut shares: Vec<Vec<(usize, &mut [f32])>> =
                (0..threads).map(|_| Vec::new()).collect();
            for (s, dst) in strips.into_iter().enumerate() {
                shares[s % threads].push((s, dst));
            }
            std::thread::scope(|scope| {
                for share in shares {
                    scope.spawn(|| {
                        let mut col = Vec::new();
                        for (s, dst) in share {
                            strip(s, dst, &mut col);
                        }
                    });
                }
            });
        }
        out
    }

    /// The im2col rows of output rows `y0 .. y0 + rows`: `[(row, x), (tap, cin)]`, zeros
    /// where a tap falls outside the image.
    fn im2col(&self, col: &mut [f32], x: &Maps, y0: usize, rows: usize) {
        let (h, w, c) = (x.height, x.width, self.cin);
        let k = 9 * c;
        for r in 0..rows {
            let y = y0 + r;
            for (xo, taps) in col[r * w * k..(r + 1) * w * k]
                .chunks_exact_mut(k)
                .enumerate()
            {
                for (tap, dst) in taps.chunks_exact_mut(c).enumerate() {
                    let yy = (y + tap / 3).wrapping_sub(1);
                    let xx = (xo + tap % 3).wrapping_sub(1);
                    if yy < h && xx < w {
                        let at = (yy * w + xx) * c;
                        dst.copy_from_slice(&x.data[at..at + c]);
                    } else {
                        dst.fill(0.0);
                    }
                }
            }
        }
    }
}

/// `dst[m×n] += lhs[m×k] · rhs[k×n]`, all row-major, on the calling thread.
///
/// # Panics
/// If a slice is shorter than its matrix.
fn matmul_add(dst: &mut [f32], lhs: &[f32], rhs: &[f32], m: usize, k: usize, n: usize) {
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
            true,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            1.0,
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

    /// Deterministic values in `[-1, 1)`.
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The convolution by its definition, channels-first in and out.
    fn direct(
        planes: &[f32],
        weight: &[f32],
        bias: &[f32],
        cin: usize,
        h: usize,
        w: usize,
    ) -> Vec<f32> {
        let cout = bias.len();
        let mut out = vec![0f32; cout * h * w];
        for o in 0..cout {
            for y in 0..h {
                for x in 0..w {
                    let mut acc = f64::from(bias[o]);
                    for i in 0..cin {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (yy, xx) = ((y + ky).wrapping_sub(1), (x + kx).wrapping_sub(1));
                                if yy < h && xx < w {
                                    acc += f64::from(weight[((o * cin + i) * 3 + ky) * 3 + kx])
                                        * f64::from(planes[(i * h + yy) * w + xx]);
                                }
                            }
                        }
                    }
                    out[(o * h + y) * w + x] = acc as f32;
                }
            }
        }
        out
    }

    #[test]
    fn matches_the_definition_with_residual_activation_and_threads() {
        for (cin, cout, h, w) in [
            (3, 5, 7, 9),
            (8, 32, 1, 1),
            (4, 12, 2, 1),
            (16, 8, 40, 70),
            (2, 3, 130, 3),
        ] {
            let planes = values(cin * h * w, 1);
            let weight = values(cout * cin * 9, 2);
            let bias = values(cout, 3);
            let conv = Conv3x3::new(&weight, Some(&bias), cout, cin);
            let x = Maps::from_planes(&planes, cin, h, w);
            let expected = direct(&planes, &weight, &bias, cin, h, w);
            let plain = conv.forward(&x, None, Activation::Identity, 1);
            let err = plain
                .to_planes()
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < 1e-4, "{cin}→{cout} {h}×{w}: {err}");
            // Threads split rows, never sums: the same bits.
            assert_eq!(conv.forward(&x, None, Activation::Identity, 3), plain);
            let residual = Maps::from_planes(&values(cout * h * w, 4), cout, h, w);
            let fused = conv.forward(&x, Some(&residual), Activation::LeakyRelu(0.1), 2);
            for ((f, p), r) in fused.data.iter().zip(&plain.data).zip(&residual.data) {
                let v = p + r;
                let v = if v < 0.0 { v * 0.1 } else { v };
                assert!((f - v).abs() < 1e-5, "{f} vs {v}");
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

    #[test]
    fn an_empty_map_stays_empty() {
        let conv = Conv3x3::new(&values(2 * 3 * 9, 5), None, 2, 3);
        let y = conv.forward(&Maps::zeros(0, 4, 3), None, Activation::Relu, 2);
        assert_eq!((y.height, y.width, y.channels, y.data.len()), (0, 4, 2, 0));
    }
}
