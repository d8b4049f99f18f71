//! Arbitrary bytes as a labelled store's series index (`tags.sidx`):
//! decoding never panics, nor do verify, a read-only open and the labelled
//! questions of a store that holds them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trendlog_fuzz::decode_series_index(data));
