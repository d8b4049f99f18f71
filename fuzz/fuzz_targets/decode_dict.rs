//! Arbitrary bytes as a tag dictionary: `scan_dict` never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trendlog_fuzz::decode_dict(data));
