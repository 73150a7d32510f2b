//! Interprets the input as CDF weights + a payload, decodes up to 4095
//! symbols, and checks that re-encoding them round-trips (see
//! `cvq_bitstream::fuzzing::decode_symbols` for the input layout).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cvq_bitstream::fuzzing::decode_symbols(data);
});
