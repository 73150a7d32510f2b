//! Deterministic integer entropy models of cvq and their exact coders. No Burn
//! dependency: integer arithmetic only (plus a `libm`-built exp table), so encoder and
//! decoder compute bit-identical distributions on every target (x86-64, wasm32).
//!
//! * [`IntContextModel3d`]: the seed's 3D masked context model, coded exactly and
//!   sequentially position by position (`(c, y, x)` raster order) with
//!   [`encode_group`] / [`decode_group`].
//! * [`IntParallelGroupModel`]: the parallel-decodable default. A group is conditioned on
//!   the already decoded, more important groups and, inside the group, on a two-pass
//!   checkerboard (anchors first, then the other half given the anchors), so a whole
//!   image takes two network evaluations per group.
//! * [`EntropyModel`] bundles one model per channel group and codes a whole image.
//! * [`ModelFile`] is the frozen model file (config, weights, integer tables, hash);
//!   [`RecurrentModelFile`] the recurrent family's (config, weights, hash), whose bits
//!   [`binary`] codes with adaptive integer bit models.
//!
//! The fixed-point conventions are documented in [`fixed`]. The float twins (Burn
//! modules used for training) live in `codec-core`, which exports them into these
//! integer models.

pub mod binary;
mod coder3d;
mod container;
mod conv2d;
mod entropy_model;
mod error;
pub mod fixed;
mod int_context3d;
mod int_parallel;
mod model_file;
mod reader;
mod recurrent_file;

pub use coder3d::{decode_group, encode_group, estimate_bits};
pub use container::{ContainerSymbols, decode_stored, rate_of_quality, stored_layout};
pub use conv2d::IntConv2d;
pub use conv2d::MAX_CONV_CHANNELS;
pub use entropy_model::{EntropyModel, GroupModel, GroupShape};
pub use error::EntropyError;
pub use int_context3d::{
    IntContextModel3d, IntMaskedConv3d, MAX_FEATURES, MAX_PLANE_WORK, MAX_POSITIONS, MaskKind,
};
pub use int_parallel::{
    IntParallelGroupModel, MAX_PARALLEL_WORK, MAX_RATE_POINTS, ParallelLayers, is_anchor,
};
pub use model_file::{
    MAX_MODEL_FILE_BYTES, ModelFamily, ModelFile, ModelIdentity, ModelKind, WeightPrecision,
    model_family, model_identity,
};
pub use recurrent_file::RecurrentModelFile;

/// Ideal code length in bits of `symbol` under `cdf`: `16 − log2(freq)` (16-bit
/// frequencies; a symbol outside the alphabet counts as frequency 1).
pub(crate) fn symbol_bits(cdf: &cvq_bitstream::coder::IntCdf, symbol: usize) -> f64 {
    16.0 - libm::log2(f64::from(cdf.frequency(symbol).unwrap_or(1).max(1)))
}
