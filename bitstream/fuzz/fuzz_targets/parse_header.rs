//! `read_file` / `read_prefix` with default limits on arbitrary bytes; a file
//! that parses must re-serialise identically (see
//! `cvq_bitstream::fuzzing::parse_header`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cvq_bitstream::fuzzing::parse_header(data);
});
