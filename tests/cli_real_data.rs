//! `trendlog ingest` of the real data in `../shared/data` gives exactly the counts an independent
//! computation in this test gives: the #MeToo tweet ids per minute, NAB realTweets per ticker per day.

mod cli_support;
use cli_support::*;

use std::collections::BTreeMap;
use std::io::Write;

/// `trendlog ingest --columns COLUMNS FILE` into `db`, with default options;
/// every line must load (exit 0).
fn ingest_csv(db: &std::path::Path, columns: &str, file: &std::path::Path) {
    let o = run(
        db,
        &["ingest", "--columns", columns, file.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn metoo_tweet_ids_per_minute_match_an_independent_count() {
    let Some(data) = data_dir() else { return };
    let file = data.join("metoo_tweet_ids_2017-11-10.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    // Independent: minute = ((id >> 22) + twitter epoch ms) / 60000.
    let mut want: BTreeMap<i64, u64> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let id: u64 = line.trim().parse().unwrap();
        let ms = (id >> 22) + 1_288_834_974_657;
        *want.entry((ms / 60_000) as i64).or_default() += 1;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let o = run(
        &db,
        &[
            "ingest",
            "--format",
            "tweet-ids",
            "--tag",
            "#MeToo",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json(&run(&db, &["--json", "query", "metoo", "--step", "1m"]));
    let (first, last) = (*want.keys().next().unwrap(), *want.keys().last().unwrap());
    assert_eq!(v["from"], first * 60);
    assert_eq!(v["to"], (last + 1) * 60);
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len() as i64, last - first + 1);
    for p in points {
        let (t, c) = (p[0].as_i64().unwrap(), p[1].as_u64().unwrap());
        assert_eq!(c, want.get(&(t / 60)).copied().unwrap_or(0), "minute {t}");
    }
    assert_eq!(v["total"], 11_614);
}

#[test]
fn nab_daily_totals_per_ticker_match_an_independent_sum() {
    let Some(data) = data_dir() else { return };
    let file = data.join("nab_realTweets_volume_5min.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    // Independent: parse `YYYY-MM-DD HH:MM:SS` by hand into a day number.
    let mut want: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.trim().split(',').collect();
        let (y, m, d): (i64, i64, i64) = (
            f[1][0..4].parse().unwrap(),
            f[1][5..7].parse().unwrap(),
            f[1][8..10].parse().unwrap(),
        );
        // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
        let y2 = if m <= 2 { y - 1 } else { y };
        let era = y2.div_euclid(400);
        let yoe = y2 - era * 400;
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let day = era * 146_097 + doe - 719_468;
        *want.entry((f[0].to_lowercase(), day)).or_default() += f[2].parse::<u64>().unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ingest_csv(&db, "tag,timestamp,count", &file);
    let tickers: std::collections::BTreeSet<&String> = want.keys().map(|k| &k.0).collect();
    assert_eq!(tickers.len(), 10);
    for t in tickers {
        let v = json(&run(&db, &["--json", "query", t, "--step", "1d"]));
        let mut got = BTreeMap::new();
        for p in v["points"].as_array().unwrap() {
            let c = p[1].as_u64().unwrap();
            if c > 0 {
                got.insert(p[0].as_i64().unwrap() / 86_400, c);
            }
        }
        let expect: BTreeMap<i64, u64> = want
            .iter()
            .filter(|((k, _), c)| k == t && **c > 0)
            .map(|((_, d), c)| (*d, *c))
            .collect();
        assert_eq!(got, expect, "{t}");
    }
    let _ = std::io::stdout().flush();
}

/// 17 months of real hashtag uses in time order, with gaps of days between
/// posts, load with the default options: the future-skew guard is measured
/// from the later of the store's now and the clock, so a gap in an old stream
/// is not "the future". Before, every line after the first gap over a day was
/// refused (9,235 of 9,516).
#[test]
fn a_sparse_stream_of_months_loads_in_order_with_default_options() {
    let Some(data) = data_dir() else { return };
    let file = data.join("metoo_2018-2020_hashtag_occurrences.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    let metoo = rows
        .iter()
        .filter(|l| l.rsplit(',').next().unwrap().eq_ignore_ascii_case("metoo"))
        .count();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ingest_csv(&db, "timestamp,tweet_id,tag", &file);
    let v = json(&run(&db, &["--json", "inspect"]));
    assert_eq!(v["total"], rows.len() as u64, "{v}");
    let q = json(&run(&db, &["--json", "query", "metoo", "--step", "1d"]));
    assert_eq!(q["total"], metoo as u64);
    assert_eq!(q["from"], 1_538_352_000, "2018-10-01: the first day held");
}
