//! Library behind the `cvq-train` binary (the binary only parses arguments): training,
//! evaluation, export, data packs and plots. The codec itself (embedded models, encode,
//! decode) is the `cvq` crate; the model is `cvq-core`.
#![forbid(unsafe_code)]

pub mod data;
pub mod eval;
pub mod pack;
pub mod plot;
pub mod speed;
pub mod train;
