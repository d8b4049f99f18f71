//! Arbitrary bytes as a log segment: `scan_log` never panics, and every block it
//! calls valid decodes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trendlog_fuzz::decode_log(data));
