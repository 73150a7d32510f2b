//! The recurrent family's bit models on fuzzed payloads (see
//! `entropy/tests/fuzz_harness/mod.rs` for the input layout).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_harness/mod.rs"]
mod fuzz_harness;

fuzz_target!(|data: &[u8]| {
    fuzz_harness::decode_bits(data);
});
