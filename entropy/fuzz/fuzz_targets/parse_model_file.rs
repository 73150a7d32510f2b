//! Both model-file parsers (CVQN and recurrent, full and decoder-only) on raw and on
//! edited, re-sealed model files (see `entropy/tests/fuzz_harness/mod.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_harness/mod.rs"]
mod fuzz_harness;

fuzz_target!(|data: &[u8]| {
    fuzz_harness::parse_model_file(data);
});
