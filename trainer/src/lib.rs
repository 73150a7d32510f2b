//! Library behind the `cvq` and `cvq-train` binaries (the binaries only parse arguments).
#![forbid(unsafe_code)]

pub mod codec_cli;
pub mod info;
