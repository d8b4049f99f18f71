//! Arbitrary bytes as a sealed segment: opening, verifying and reading never
//! panic, and a segment that verifies holds exactly the totals its header states.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trendlog_fuzz::decode_segment(data));
