//! Arbitrary operations (record, batch, sync, seal, compact, reopen, query,
//! crash after N file-system operations) on a SimFs store agree with a
//! `BTreeMap` model.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|ops: Vec<trendlog_fuzz::Op>| trendlog_fuzz::ops_model(ops));
