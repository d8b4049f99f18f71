//! Arbitrary bytes as a manifest: decoding never panics, and what decodes
//! re-encodes to a manifest that decodes to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trendlog_fuzz::decode_manifest(data));
