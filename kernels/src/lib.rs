//! Channels-last CPU kernels for running a trained decoder: a 3×3 "same" convolution as
//! im2col + matrix product (the [`gemm`] crate, the one Burn's Flex backend uses), the
//! pixel shuffle, and the channel-attention gate. Plain `f32` slices, no Burn: the model
//! (`cvq-core`) builds these from its Burn modules once and runs them on the CPU.
//!
//! Why: Flex computes a convolution in channels-first layout by first copying the input
//! to channels-last, then building im2col tiles and scattering the product back, every
//! call. Kept channels-last from layer to layer, a convolution is one product per strip
//! of rows written straight into its output, with the bias and a residual added by the
//! product itself and the activation applied while the strip is in cache.
//! `cargo bench -p cvq-kernels` times both on the transforms' layer shapes: on the
//! project's 2-core VM (2026-11-29, 2 threads) 2.5–3.7× Flex's speed on 8–32 channels
//! and 1.6–2.3× on 64–128, with outputs equal to Flex's on those shapes.
//!
//! Layout: [`Maps`] holds `height × width` positions of `channels` values each,
//! `data[(y · width + x) · channels + c]`.
#![deny(unsafe_op_in_unsafe_fn)]

mod conv;
mod gate;
mod maps;
mod parallel;

pub use conv::{Activation, Conv1x1, Conv3x3};
pub use gate::{Gate, GateOutput, gated_residual};
pub use maps::Maps;
pub use parallel::in_parallel;
