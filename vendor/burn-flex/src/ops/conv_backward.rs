//! Native gradients of `conv2d` (cvq's patch to burn-flex 0.21.0; see `VENDORED.md`).
//!
//! Burn's default `conv2d_weight_backward` swaps the batch and channel axes of the input
//! and of the output gradient and runs a forward convolution whose kernel is the whole
//! output gradient (an `Ho × Wo` kernel over `batch` "channels"); on Flex both swaps go
//! through the generic strided copy and the convolution through a small-channel path,
//! which made the weight gradient the largest cost of a CPU training step. Here both
//! gradients are one GEMM per image and group over an im2col buffer, the same scheme as
//! the forward convolution:
//!
//! - weight: `dW_g [opg, cpg·kh·kw] += G_{n,g} [opg, Ho·Wo] · col(x_{n,g})ᵀ [Ho·Wo, cpg·kh·kw]`,
//!   one partial sum per image (images in parallel), added in image order.
//! - input: `col [cpg·kh·kw, Ho·Wo] = W_gᵀ · G_{n,g}`, scattered back by col2im into
//!   `dx_{n,g}` (images in parallel: each writes its own slice).
//! - bias: `db[c] = Σ_{n, p} G[n, c, p]`.
//!
//! Shapes: `x [N, Cin, H, W]`, `weight [Cout, Cin / groups, kh, kw]`,
//! `output_grad [N, Cout, Ho, Wo]`; all taken contiguous (a copy if they are not).

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::ConvOptions;
use burn_std::{Bytes, Shape, bf16, f16};

use crate::ops::module::{cast_from_f32, cast_to_f32};
use crate::{FlexTensor, Layout};

/// The element types the GEMM-based gradients run in; half types are widened to f32.
trait GradScalar: burn_backend::Element + bytemuck::Pod + Copy + Send + Sync + 'static {
    const ZERO: Self;
    const ONE: Self;
    fn add(self, other: Self) -> Self;
}

impl GradScalar for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn add(self, other: Self) -> Self {
        self + other
    }
}

impl GradScalar for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn add(self, other: Self) -> Self {
        self + other
    }
}

/// The geometry of one 2-D convolution, read from its operands' shapes.
#[derive(Clone, Copy)]
struct Geometry {
    batch: usize,
    channels_in: usize,
    height: usize,
    width: usize,
    channels_out: usize,
    /// Input channels per group (`weight`'s dimension 1).
    cpg: usize,
    /// Output channels per group.
    opg: usize,
    groups: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    out: [usize; 2],
}

impl Geometry {
    fn new(x: &Shape, weight: &Shape, output_grad: &Shape, options: &ConvOptions<2>) -> Self {
        let groups = options.groups.max(1);
        Self {
            batch: x[0],
            channels_in: x[1],
            height: x[2],
            width: x[3],
            channels_out: weight[0],
            cpg: weight[1],
            opg: weight[0] / groups,
            groups,
            kernel: [weight[2], weight[3]],
            stride: options.stride,
            padding: options.padding,
            dilation: options.dilation,
            out: [output_grad[2], output_grad[3]],
        }
    }

    /// Rows of the im2col buffer of one group: `cpg · kh · kw`.
    fn col_len(&self) -> usize {
        self.cpg * self.kernel[0] * self.kernel[1]
    }

    fn spatial_out(&self) -> usize {
        self.out[0] * self.out[1]
    }

    /// The input coordinate that output position `o` reads at kernel tap `k` along
    /// `axis`, or `None` where it falls into the padding.
    #[inline]
    fn input_at(&self, axis: usize, o: usize, k: usize) -> Option<usize> {
        let size = if axis == 0 { self.height } else { self.width };
        let at = (o * self.stride[axis] + k * self.dilation[axis]) as isize
            - self.padding[axis] as isize;
        (at >= 0 && (at as usize) < size).then_some(at as usize)
    }

    /// The output positions `lo..hi` along `axis` whose tap `k` reads inside the input.
    fn valid_outputs(&self, axis: usize, k: usize) -> (usize, usize) {
        let n = self.out[axis];
        let lo = (0..n).find(|&o| self.input_at(axis, o, k).is_some());
        match lo {
            None => (0, 0),
            Some(lo) => {
                let hi = (lo..n)
                    .find(|&o| self.input_at(axis, o, k).is_none())
                    .unwrap_or(n);
                (lo, hi)
            }
        }
    }

    /// The input coordinate of output `o` at tap `k` along `axis` (inside the input).
    #[inline]
    fn first_input(&self, axis: usize, o: usize, k: usize) -> usize {
        (o * self.stride[axis] + k * self.dilation[axis]).saturating_sub(self.padding[axis])
    }

    /// For kernel column `j`: the output columns `lo..hi` that read inside the input, and
    /// the input column that `lo` reads (`None` when no column does).
    fn columns(&self, j: usize) -> Option<(usize, usize, usize)> {
        let (lo, hi) = self.valid_outputs(1, j);
        (lo < hi).then(|| (lo, hi, self.first_input(1, lo, j)))
    }

    /// Fills `col [col_len, Ho·Wo]` (row-major) from image `n`, group `g` of `x`.
    fn im2col<T: GradScalar>(&self, x: &[T], n: usize, g: usize, col: &mut [T]) {
        let [kh, kw] = self.kernel;
        let [oh_n, ow_n] = self.out;
        let plane = self.height * self.width;
        let step = self.stride[1];
        for ci in 0..self.cpg {
            let channel = n * self.channels_in + g * self.cpg + ci;
            let src = &x[channel * plane..(channel + 1) * plane];
            for i in 0..kh {
                for j in 0..kw {
                    let row = ((ci * kh + i) * kw + j) * oh_n * ow_n;
                    let dst = &mut col[row..row + oh_n * ow_n];
                    let columns = self.columns(j);
                    for (oh, line) in dst.chunks_exact_mut(ow_n).enumerate() {
                        let (Some(ih), Some((lo, hi, first))) = (self.input_at(0, oh, i), columns)
                        else {
                            line.fill(T::ZERO);
                            continue;
                        };
                        let src_row = &src[ih * self.width + first..(ih + 1) * self.width];
                        line[..lo].fill(T::ZERO);
                        line[hi..].fill(T::ZERO);
                        if step == 1 {
                            line[lo..hi].copy_from_slice(&src_row[..hi - lo]);
                        } else {
                            for (value, &v) in
                                line[lo..hi].iter_mut().zip(src_row.iter().step_by(step))
                            {
                                *value = v;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds `col [col_len, Ho·Wo]` back into group `g` of one image's input gradient
    /// `dx_n [Cin, H, W]`.
    fn col2im<T: GradScalar>(&self, col: &[T], g: usize, dx_n: &mut [T]) {
        let [kh, kw] = self.kernel;
        let [oh_n, ow_n] = self.out;
        let plane = self.height * self.width;
        let step = self.stride[1];
        for ci in 0..self.cpg {
            let channel = g * self.cpg + ci;
            let dst = &mut dx_n[channel * plane..(channel + 1) * plane];
            for i in 0..kh {
                for j in 0..kw {
                    let row = ((ci * kh + i) * kw + j) * oh_n * ow_n;
                    let src = &col[row..row + oh_n * ow_n];
                    let Some((lo, hi, first)) = self.columns(j) else {
                        continue;
                    };
                    for (oh, line) in src.chunks_exact(ow_n).enumerate() {
                        let Some(ih) = self.input_at(0, oh, i) else {
                            continue;
                        };
                        let dst_row = &mut dst[ih * self.width + first..(ih + 1) * self.width];
                        for (d, &value) in dst_row.iter_mut().step_by(step).zip(&line[lo..hi]) {
                            *d = d.add(value);
                        }
                    }
                }
            }
        }
    }
}

/// `dst [m, n] (+)= lhs · rhs` with explicit (row, column) strides of every operand.
#[allow(clippy::too_many_arguments)]
fn gemm_strided<T: GradScalar>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    dst_strides: (isize, isize),
    accumulate: bool,
    lhs: &[T],
    lhs_strides: (isize, isize),
    rhs: &[T],
    rhs_strides: (isize, isize),
) {
    // SAFETY: the callers pass slices that cover every index the strides reach.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_strides.1,
            dst_strides.0,
            accumulate,
            lhs.as_ptr(),
            lhs_strides.1,
            lhs_strides.0,
            rhs.as_ptr(),
            rhs_strides.1,
            rhs_strides.0,
            if accumulate { T::ONE } else { T::ZERO },
            T::ONE,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// The weight gradient of image `n` added into `dw [Cout, cpg·kh·kw]`.
fn weight_grad_image<T: GradScalar>(
    geo: &Geometry,
    x: &[T],
    grad: &[T],
    n: usize,
    col: &mut [T],
    dw: &mut [T],
) {
    let col_len = geo.col_len();
    let spatial = geo.spatial_out();
    for g in 0..geo.groups {
        geo.im2col(x, n, g, col);
        let grad_ng = &grad[(n * geo.channels_out + g * geo.opg) * spatial..][..geo.opg * spatial];
        let dw_g = &mut dw[g * geo.opg * col_len..(g + 1) * geo.opg * col_len];
        gemm_strided(
            geo.opg,
            col_len,
            spatial,
            dw_g,
            (col_len as isize, 1),
            true,
            grad_ng,
            (spatial as isize, 1),
            col,
            (1, spatial as isize),
        );
    }
}

fn weight_backward_typed<T: GradScalar>(geo: &Geometry, x: &[T], grad: &[T]) -> Vec<T> {
    let len = geo.channels_out * geo.col_len();
    let col_size = geo.col_len() * geo.spatial_out();
    if col_size == 0 {
        return vec![T::ZERO; len];
    }
    // One partial sum per image, added in image order: the result does not depend on
    // the number of threads or on how rayon splits the work (training stays reproducible).
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        let partials: Vec<Vec<T>> = (0..geo.batch)
            .into_par_iter()
            .map_init(
                || vec![T::ZERO; col_size],
                |col, n| {
                    let mut dw = vec![T::ZERO; len];
                    weight_grad_image(geo, x, grad, n, col, &mut dw);
                    dw
                },
            )
            .collect();
        let mut partials = partials.into_iter();
        let mut dw = partials.next().unwrap_or_else(|| vec![T::ZERO; len]);
        for partial in partials {
            dw.iter_mut()
                .zip(&partial)
                .for_each(|(a, &b)| *a = a.add(b));
        }
        dw
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut dw = vec![T::ZERO; len];
        let mut col = vec![T::ZERO; col_size];
        for n in 0..geo.batch {
            weight_grad_image(geo, x, grad, n, &mut col, &mut dw);
        }
        dw
    }
}

/// The input gradient of image `n` written into `dx_n [Cin, H, W]` (zeroed by the caller).
fn x_grad_image<T: GradScalar>(
    geo: &Geometry,
    w: &[T],
    grad: &[T],
    n: usize,
    col: &mut [T],
    dx_n: &mut [T],
) {
    let col_len = geo.col_len();
    let spatial = geo.spatial_out();
    for g in 0..geo.groups {
        let w_g = &w[g * geo.opg * col_len..(g + 1) * geo.opg * col_len];
        let grad_ng = &grad[(n * geo.channels_out + g * geo.opg) * spatial..][..geo.opg * spatial];
        gemm_strided(
            col_len,
            spatial,
            geo.opg,
            col,
            (spatial as isize, 1),
            false,
            w_g,
            (1, col_len as isize),
            grad_ng,
            (spatial as isize, 1),
        );
        geo.col2im(col, g, dx_n);
    }
}

fn x_backward_typed<T: GradScalar>(geo: &Geometry, w: &[T], grad: &[T]) -> Vec<T> {
    let image = geo.channels_in * geo.height * geo.width;
    let col_size = geo.col_len() * geo.spatial_out();
    let mut dx = vec![T::ZERO; geo.batch * image];
    if image == 0 || col_size == 0 {
        return dx;
    }
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        dx.par_chunks_mut(image).enumerate().for_each_init(
            || vec![T::ZERO; col_size],
            |col, (n, dx_n)| x_grad_image(geo, w, grad, n, col, dx_n),
        );
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut col = vec![T::ZERO; col_size];
        for (n, dx_n) in dx.chunks_mut(image).enumerate() {
            x_grad_image(geo, w, grad, n, &mut col, dx_n);
        }
    }
    dx
}

fn bias_backward_typed<T: GradScalar>(shape: &Shape, grad: &[T]) -> Vec<T> {
    let (batch, channels) = (shape[0], shape[1]);
    let spatial: usize = (2..shape.num_dims()).map(|d| shape[d]).product();
    let mut db = vec![T::ZERO; channels];
    for n in 0..batch {
        for (c, sum) in db.iter_mut().enumerate() {
            let start = (n * channels + c) * spatial;
            *sum = grad[start..start + spatial]
                .iter()
                .fold(*sum, |acc, &v| acc.add(v));
        }
    }
    db
}

fn tensor<T: GradScalar>(data: Vec<T>, shape: Shape, dtype: DType) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(data), Layout::contiguous(shape), dtype)
}

/// Runs `op_f32` / `op_f64` on f32 / f64 operands, and `op_f32` on half-precision
/// operands widened to f32 with the result narrowed back.
fn dispatch(
    operands: [FlexTensor; 2],
    op_f32: impl FnOnce(&[f32], &[f32]) -> Vec<f32>,
    op_f64: impl FnOnce(&[f64], &[f64]) -> Vec<f64>,
    shape: Shape,
    name: &str,
) -> FlexTensor {
    let [a, b] = operands;
    let dtype = a.dtype();
    match dtype {
        DType::F32 => {
            let (a, b) = (a.to_contiguous(), b.to_contiguous());
            tensor(op_f32(a.storage(), b.storage()), shape, dtype)
        }
        DType::F64 => {
            let (a, b) = (a.to_contiguous(), b.to_contiguous());
            tensor(op_f64(a.storage(), b.storage()), shape, dtype)
        }
        DType::F16 => {
            let (a, b) = (cast_to_f32(a, f16::to_f32), cast_to_f32(b, f16::to_f32));
            let out = tensor(op_f32(a.storage(), b.storage()), shape, DType::F32);
            cast_from_f32(out, f16::from_f32)
        }
        DType::BF16 => {
            let (a, b) = (cast_to_f32(a, bf16::to_f32), cast_to_f32(b, bf16::to_f32));
            let out = tensor(op_f32(a.storage(), b.storage()), shape, DType::F32);
            cast_from_f32(out, bf16::from_f32)
        }
        dtype => panic!("{name}: unsupported dtype {dtype:?}"),
    }
}

/// The gradient of `conv2d` with respect to `weight`: `[Cout, Cin / groups, kh, kw]`.
pub fn conv2d_weight_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let geo = Geometry::new(
        x.layout().shape(),
        weight.layout().shape(),
        output_grad.layout().shape(),
        options,
    );
    let shape = weight.layout().shape().clone();
    dispatch(
        [x, output_grad],
        |x, g| weight_backward_typed(&geo, x, g),
        |x, g| weight_backward_typed(&geo, x, g),
        shape,
        "conv2d_weight_backward",
    )
}

/// The gradient of `conv2d` with respect to `x`: `[N, Cin, H, W]`.
pub fn conv2d_x_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let geo = Geometry::new(
        x.layout().shape(),
        weight.layout().shape(),
        output_grad.layout().shape(),
        options,
    );
    let shape = x.layout().shape().clone();
    dispatch(
        [weight, output_grad],
        |w, g| x_backward_typed(&geo, w, g),
        |w, g| x_backward_typed(&geo, w, g),
        shape,
        "conv2d_x_backward",
    )
}

/// The gradient of `conv2d` with respect to `bias`: `[Cout]`.
pub fn conv2d_bias_backward(bias: FlexTensor, output_grad: FlexTensor) -> FlexTensor {
    let grad_shape = output_grad.layout().shape().clone();
    let shape = bias.layout().shape().clone();
    dispatch(
        [output_grad, bias],
        |g, _| bias_backward_typed(&grad_shape, g),
        |g, _| bias_backward_typed(&grad_shape, g),
        shape,
        "conv2d_bias_backward",
    )
}
