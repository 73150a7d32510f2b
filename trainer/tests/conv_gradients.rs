//! The training backend's `conv2d` gradients (weight, input and bias) against a direct
//! f64 evaluation of their definitions. The CPU trainer runs on burn-flex with cvq's
//! native gradients (`vendor/burn-flex/VENDORED.md`); these cases cover stride,
//! padding, dilation, groups, non-square kernels and sizes that a stride does not divide.

use burn::backend::{Autodiff, Flex};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData};
use tests::values;

type B = Autodiff<Flex>;

/// One convolution: shapes and options.
#[derive(Clone, Copy, Debug)]
struct Case {
    batch: usize,
    channels_in: usize,
    channels_out: usize,
    size: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
}

impl Case {
    fn out(&self, axis: usize) -> usize {
        (self.size[axis] + 2 * self.padding[axis]
            - self.dilation[axis] * (self.kernel[axis] - 1)
            - 1)
            / self.stride[axis]
            + 1
    }
}

/// The gradients of `Σ conv2d(x, w, b) · r` by definition: (dx, dw, db).
fn reference(case: &Case, x: &[f32], w: &[f32], r: &[f32]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let [h, wd] = case.size;
    let [kh, kw] = case.kernel;
    let (oh_n, ow_n) = (case.out(0), case.out(1));
    let cpg = case.channels_in / case.groups;
    let opg = case.channels_out / case.groups;
    let mut dx = vec![0.0; x.len()];
    let mut dw = vec![0.0; w.len()];
    let mut db = vec![0.0; case.channels_out];
    for n in 0..case.batch {
        for co in 0..case.channels_out {
            let g = co / opg;
            for oh in 0..oh_n {
                for ow in 0..ow_n {
                    let grad = r[((n * case.channels_out + co) * oh_n + oh) * ow_n + ow] as f64;
                    db[co] += grad;
                    for ci in 0..cpg {
                        for i in 0..kh {
                            for j in 0..kw {
                                let ih = (oh * case.stride[0] + i * case.dilation[0]) as isize
                                    - case.padding[0] as isize;
                                let iw = (ow * case.stride[1] + j * case.dilation[1]) as isize
                                    - case.padding[1] as isize;
                                if ih < 0 || iw < 0 || ih as usize >= h || iw as usize >= wd {
                                    continue;
                                }
                                let xi = ((n * case.channels_in + g * cpg + ci) * h + ih as usize)
                                    * wd
                                    + iw as usize;
                                let wi = ((co * cpg + ci) * kh + i) * kw + j;
                                dw[wi] += grad * x[xi] as f64;
                                dx[xi] += grad * w[wi] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    (dx, dw, db)
}

fn assert_close(what: &str, case: &Case, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what} length, {case:?}");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= 1e-5 * scale,
            "{what}[{k}] = {g}, expected {w} (scale {scale}), {case:?}"
        );
    }
}

fn check(case: Case) {
    let device = Default::default();
    let [h, w] = case.size;
    let x_shape = [case.batch, case.channels_in, h, w];
    let w_shape = [
        case.channels_out,
        case.channels_in / case.groups,
        case.kernel[0],
        case.kernel[1],
    ];
    let r_shape = [case.batch, case.channels_out, case.out(0), case.out(1)];
    let x_values = values(x_shape.iter().product(), 1);
    let w_values = values(w_shape.iter().product(), 2);
    let b_values = values(case.channels_out, 3);
    let r_values = values(r_shape.iter().product(), 4);

    let x = Tensor::<B, 4>::from_data(TensorData::new(x_values.clone(), x_shape), &device)
        .require_grad();
    let weight = Tensor::<B, 4>::from_data(TensorData::new(w_values.clone(), w_shape), &device)
        .require_grad();
    let bias = Tensor::<B, 1>::from_data(TensorData::new(b_values, [case.channels_out]), &device)
        .require_grad();
    let r = Tensor::<B, 4>::from_data(TensorData::new(r_values.clone(), r_shape), &device);
    let options = ConvOptions::new(case.stride, case.padding, case.dilation, case.groups);
    let y = conv2d(x.clone(), weight.clone(), Some(bias.clone()), options);
    assert_eq!(y.dims(), r_shape, "{case:?}");
    let grads = (y * r).sum().backward();

    let read = |t: Tensor<Flex, 4>| t.into_data().to_vec::<f32>().unwrap();
    let (dx, dw, db) = reference(&case, &x_values, &w_values, &r_values);
    assert_close("dx", &case, &read(x.grad(&grads).unwrap()), &dx);
    assert_close("dw", &case, &read(weight.grad(&grads).unwrap()), &dw);
    let got_db = bias
        .grad(&grads)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert_close("db", &case, &got_db, &db);
}

const PLAIN: Case = Case {
    batch: 3,
    channels_in: 4,
    channels_out: 5,
    size: [9, 7],
    kernel: [3, 3],
    stride: [1, 1],
    padding: [1, 1],
    dilation: [1, 1],
    groups: 1,
};

#[test]
fn conv2d_gradients_match_their_definition() {
    check(PLAIN);
}

#[test]
fn strided_and_padded_conv2d_gradients_match_their_definition() {
    // The model's downsampling convolutions: 5×5, stride 2, padding 2, odd sizes.
    check(Case {
        kernel: [5, 5],
        stride: [2, 2],
        padding: [2, 2],
        size: [11, 8],
        ..PLAIN
    });
    // A stride that leaves input rows and columns unread, no padding.
    check(Case {
        stride: [3, 2],
        padding: [0, 0],
        size: [10, 9],
        ..PLAIN
    });
}

#[test]
fn dilated_grouped_and_pointwise_conv2d_gradients_match_their_definition() {
    check(Case {
        kernel: [3, 2],
        dilation: [2, 3],
        padding: [2, 1],
        ..PLAIN
    });
    check(Case {
        channels_in: 6,
        channels_out: 4,
        groups: 2,
        ..PLAIN
    });
    check(Case {
        kernel: [1, 1],
        padding: [0, 0],
        batch: 1,
        ..PLAIN
    });
    // A kernel wider than the padded input along one axis leaves one output column.
    check(Case {
        size: [6, 2],
        kernel: [3, 4],
        padding: [1, 1],
        ..PLAIN
    });
}
