//! In a labelled store of format version 5 the log and the segments name
//! series ids: when damage to `tags.series` leaves a segment naming series
//! the table no longer holds, `verify` says "series id" and counts the
//! series of `tags.series`, never "tag id" and the dictionary's tags.

use std::path::Path;

use trendlog::labels::LabelKeys;
use trendlog::{Options, Store};

/// 2017-10-16T00:00:00Z.
const T0: i64 = 1_508_112_000;

/// Ten batches of new series (one block of `tags.series` each), synced.
/// Sealed and closed when `seal`; otherwise the process "ends" without a
/// close and the cells stay in the log.
fn build(dir: &Path, seal: bool) {
    let opts = Options::default()
        .background_compaction(false)
        .label_keys(LabelKeys::parse("region").unwrap());
    let s = Store::open(dir, opts).unwrap();
    for batch in 0..10i64 {
        let mut b = s.batch();
        for i in 0..20 {
            let region = format!("r{batch}-{i}");
            b.add_labelled("metoo", &[("region", &region)], T0 + batch * 60, 1)
                .unwrap();
        }
        b.commit().unwrap();
        s.sync().unwrap();
    }
    if seal {
        s.seal().unwrap();
        s.close().unwrap();
    } else {
        std::mem::forget(s);
    }
}

/// Flips a bit in the middle of `tags.series` (the blocks before it stand,
/// the series from there on are lost) and returns what `verify` says.
fn damage_and_verify(dir: &Path) -> Vec<String> {
    let path = dir.join("tags.series");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let r = trendlog::verify::verify(dir, &Options::default()).unwrap();
    r.problems.iter().map(ToString::to_string).collect()
}

#[test]
fn a_segment_past_a_damaged_series_table_names_series_ids() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), true);
    let said = damage_and_verify(dir.path());
    assert!(
        said.iter().any(|p| p.contains("tags.series")),
        "the damage itself is reported: {said:#?}"
    );
    let segment = said
        .iter()
        .find(|p| p.contains("the segment names"))
        .unwrap_or_else(|| panic!("no segment problem: {said:#?}"));
    assert!(
        segment.contains("the segment names series id 199 but tags.series holds"),
        "{segment}"
    );
    assert!(segment.ends_with(" series"), "{segment}");
    assert!(
        !said.iter().any(|p| p.contains("tag id")),
        "a series id called a tag id: {said:#?}"
    );
}

/// The same damage while the series' cells are still in the log (synced, never sealed): the
/// log's check names series and `tags.series`, not tags and the dictionary.
#[test]
fn a_durable_log_block_past_a_damaged_series_table_names_series() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), false);
    let said = damage_and_verify(dir.path());
    assert!(
        said.iter()
            .any(|p| p.contains("names series tags.series lacks")),
        "{said:#?}"
    );
    assert!(
        !said.iter().any(|p| p.contains("dictionary lacks")),
        "series called tags: {said:#?}"
    );
}
