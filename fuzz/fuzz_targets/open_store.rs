//! A store directory made of arbitrary bytes (or a real store damaged by
//! arbitrary edits): open, read-only open, verify and queries never panic, and
//! an undamaged-looking store answers exactly.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trendlog_fuzz::open_store(data));
