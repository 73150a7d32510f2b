//! Library behind the `cvq` and `cvq-train` binaries (the binaries only parse arguments).
#![forbid(unsafe_code)]

pub mod codec_cli;
pub mod data;
mod embedded;
pub mod eval;
pub mod info;
pub mod pack;
pub mod plot;
pub mod rd;
pub mod speed;
pub mod train;
