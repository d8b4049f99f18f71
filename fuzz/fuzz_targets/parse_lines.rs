//! Arbitrary input lines through every parser of the binary's `parse` module: no panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trendlog_fuzz::parse_lines(data));
