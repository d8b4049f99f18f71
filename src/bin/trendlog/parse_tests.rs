//! Unit tests of [`crate::parse`]: every accepted form, every rejection, the
//! real data beside the checkout, and property tests.

use crate::parse::*;
use proptest::prelude::*;
use trendlog::time::format_rfc3339;
use trendlog::{Error, InvalidInput, Result};

fn invalid(r: Result<impl std::fmt::Debug>) -> InvalidInput {
    match r {
        Err(Error::InvalidInput(e)) => e,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn parse_msg(r: Result<impl std::fmt::Debug>) -> String {
    match invalid(r) {
        InvalidInput::Parse(m) => m,
        other => panic!("expected a Parse error, got {other:?}"),
    }
}

const T0: i64 = 1_508_167_800; // 2017-10-16T15:30:00Z

#[test]
fn timestamp_forms() {
    for s in [
        "1508167800",
        "1508167800.0",
        "1508167800.999",
        " 1508167800\r",
        "2017-10-16T15:30:00Z",
        "2017-10-16t15:30:00z",
        "2017-10-16T15:30:00.999Z",
        "2017-10-16T15:30:00.123456789Z",
        "2017-10-16T17:30:00+02:00",
        "2017-10-16T10:00:00-05:30",
        "2017-10-16T15:30:00+00:00",
        "2017-10-16T15:30:00-00:00",
        "2017-10-16 15:30:00",
        "2017-10-16T15:30:00",
        "2017-10-16 15:30:00Z",
        "2017-10-16 17:30:00.5+02:00",
        "\u{feff}2017-10-16T15:30:00Z",
    ] {
        assert_eq!(parse_timestamp(s).unwrap(), T0, "{s:?}");
    }
    assert_eq!(parse_timestamp("2017-10-16").unwrap(), 1_508_112_000);
    assert_eq!(parse_timestamp("0").unwrap(), 0);
    assert_eq!(parse_timestamp("1970-01-01T00:00:00Z").unwrap(), 0);
    assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00").unwrap(), 0);
    assert_eq!(
        parse_timestamp("9999-12-31T23:59:59Z").unwrap(),
        253_402_300_799
    );
    // A leap second is clamped to :59.
    assert_eq!(
        parse_timestamp("2016-12-31T23:59:60Z").unwrap(),
        parse_timestamp("2016-12-31T23:59:59Z").unwrap()
    );
}

#[test]
fn leap_years() {
    assert_eq!(parse_timestamp("2016-02-29").unwrap(), 1_456_704_000);
    assert_eq!(
        parse_timestamp("2016-02-29 12:00:00").unwrap(),
        1_456_747_200
    );
    assert_eq!(parse_timestamp("2000-02-29").unwrap(), 951_782_400);
    let m = parse_msg(parse_timestamp("2017-02-29"));
    assert!(m.contains("2017-02 has no day 29 (it has 28 days)"), "{m}");
    assert!(parse_timestamp("2100-02-29").is_err());
    assert!(parse_timestamp("2017-04-31").is_err());
    assert!(parse_timestamp("2017-12-31").is_ok());
}

#[test]
fn timestamp_rejections() {
    for s in [
        "",
        "   ",
        "now",
        "abc",
        "+1508167800",
        "1508167800.",
        ".5",
        "1e9",
        "0x10",
        "1_000",
        "2017-10-16T",
        "2017-10-16T15:30",
        "2017-10-16T15:30Z",
        "2017-10-16T15:30:00ZZ",
        "2017-10-16T15:30:00+0200",
        "2017-10-16T15:30:00+02",
        "2017-10-16T15:30:00 +02:00",
        "2017-10-16T15:30:00.Z",
        "2017-10-16X15:30:00",
        "2017-1-16",
        "17-10-16",
        "2017/10/16",
        "2017-10-16T15:30:00Zjunk",
        "١٢٣", // non-ASCII digits
    ] {
        assert!(
            matches!(invalid(parse_timestamp(s)), InvalidInput::Parse(_)),
            "{s:?}"
        );
    }
    let m = parse_msg(parse_timestamp("yesterday"));
    assert!(m.contains("unix seconds") && m.contains("RFC 3339"), "{m}");
    assert!(parse_msg(parse_timestamp("2017-13-01")).contains("month 13"));
    assert!(parse_msg(parse_timestamp("2017-00-01")).contains("month 0"));
    assert!(parse_timestamp("2017-10-00").is_err());
    assert!(parse_msg(parse_timestamp("2017-10-16T24:00:00Z")).contains("time of day"));
    assert!(parse_timestamp("2017-10-16T23:60:00Z").is_err());
    assert!(parse_timestamp("2017-10-16T23:59:61Z").is_err());
    assert!(parse_msg(parse_timestamp("2017-10-16T00:00:00+24:00")).contains("offset"));
    assert!(parse_timestamp("2017-10-16T00:00:00+01:60").is_err());
    // A long input is cut in the message.
    let long = "x".repeat(10_000);
    assert!(parse_msg(parse_timestamp(&long)).len() < 400);
}

#[test]
fn timestamp_range() {
    assert_eq!(
        invalid(parse_timestamp("-1")),
        InvalidInput::BeforeEpoch { seconds: -1 }
    );
    assert_eq!(
        invalid(parse_timestamp("-0.5")),
        InvalidInput::BeforeEpoch { seconds: -1 }
    );
    assert_eq!(parse_timestamp("-0").unwrap(), 0);
    assert_eq!(
        invalid(parse_timestamp("1969-12-31T23:59:59Z")),
        InvalidInput::BeforeEpoch { seconds: -1 }
    );
    assert_eq!(
        invalid(parse_timestamp("1970-01-01T00:30:00+01:00")),
        InvalidInput::BeforeEpoch { seconds: -1800 }
    );
    assert!(matches!(
        invalid(parse_timestamp("0000-01-01")),
        InvalidInput::BeforeEpoch { .. }
    ));
    assert_eq!(
        parse_timestamp(&MAX_UNIX_SECS.to_string()).unwrap(),
        MAX_UNIX_SECS
    );
    assert_eq!(
        trendlog::time::Minute::from_unix(MAX_UNIX_SECS).unwrap(),
        trendlog::time::LAST_MINUTE
    );
    let over = (MAX_UNIX_SECS + 1).to_string();
    assert!(parse_msg(parse_timestamp(&over)).contains("past the last minute"));
    // Milliseconds, the usual mistake, get a hint; past them, the plain error.
    assert!(parse_msg(parse_timestamp("1704067200000")).contains("milliseconds"));
    let past_ms = (MAX_UNIX_SECS * 1000 + 1000).to_string();
    assert_eq!(
        invalid(parse_timestamp(&past_ms)),
        InvalidInput::TimeOutOfRange {
            seconds: MAX_UNIX_SECS * 1000 + 1000
        }
    );
    assert_eq!(
        invalid(parse_timestamp("9223372036854775807")),
        InvalidInput::TimeOutOfRange { seconds: i64::MAX }
    );
    // Past 64 bits the error names the number as written, not a saturated one.
    for huge in [
        "9223372036854775808",
        "99999999999999999999999999999999",
        "99999999999999999999999999999999.9",
    ] {
        let m = parse_msg(parse_timestamp(huge));
        assert!(
            m.contains(huge) && m.contains("past the last minute"),
            "{m}"
        );
    }
    let m = parse_msg(parse_timestamp("-99999999999999999999999"));
    assert!(
        m.contains("-99999999999999999999999") && m.contains("before 1970"),
        "{m}"
    );
    let m = parse_msg(parse_ndjson_line(r#"{"ts":1e30,"tag":"a"}"#));
    assert!(
        m.contains("1e30") && m.contains("past the last minute"),
        "{m}"
    );
}

#[test]
fn durations() {
    let d = |s: &str| parse_duration(s).unwrap().as_secs();
    assert_eq!(d("90s"), 90);
    assert_eq!(d("15m"), 900);
    assert_eq!(d("1h"), 3600);
    assert_eq!(d("7d"), 604_800);
    assert_eq!(d("1h30m"), 5400);
    assert_eq!(d("1d12h30m15s"), 131_415);
    assert_eq!(d("90"), 90);
    assert_eq!(d(" 0s\r"), 0);
    assert_eq!(d("0"), 0);
    for bad in [
        "", "-1h", "-90", "1.5h", "h", "1", "1x", "1H", "1h 30m", "1hm", "+1h", "1h-", "1 h",
        "10h5",
    ] {
        if bad == "1" {
            continue;
        }
        assert!(
            matches!(invalid(parse_duration(bad)), InvalidInput::Parse(_)),
            "{bad:?}"
        );
    }
    assert!(parse_msg(parse_duration("-1h")).contains("negative"));
    assert!(parse_msg(parse_duration("")).contains("empty"));
    assert!(parse_msg(parse_duration("99999999999999999999s")).contains("too long"));
    assert!(parse_msg(parse_duration("18446744073709551615d")).contains("too long"));
    assert!(parse_msg(parse_duration("18446744073709551615s1s")).contains("too long"));
    assert_eq!(d("18446744073709551615"), u64::MAX);
}

#[test]
fn time_specs() {
    let p = |s: &str| parse_time_spec(s).unwrap();
    assert_eq!(p("now"), TimeSpec::RelativeToNow(0));
    assert_eq!(p("NOW"), TimeSpec::RelativeToNow(0));
    assert_eq!(p("-24h"), TimeSpec::RelativeToNow(-86_400));
    assert_eq!(p("-90m"), TimeSpec::RelativeToNow(-5400));
    assert_eq!(p("+1h"), TimeSpec::RelativeToNow(3600));
    assert_eq!(p("now-1h"), TimeSpec::RelativeToNow(-3600));
    assert_eq!(p("now - 1h"), TimeSpec::RelativeToNow(-3600));
    assert_eq!(p("now+15m"), TimeSpec::RelativeToNow(900));
    assert_eq!(p("-90"), TimeSpec::RelativeToNow(-90));
    assert_eq!(p("2017-10-16T15:30:00Z"), TimeSpec::Absolute(T0));
    assert_eq!(p("1508167800"), TimeSpec::Absolute(T0));
    for bad in [
        "",
        "now1h",
        "nowish",
        "--1h",
        "-",
        "now-",
        "+-1h",
        "yesterday",
        "-1y",
    ] {
        assert!(parse_time_spec(bad).is_err(), "{bad:?}");
    }
    assert!(parse_time_spec("-18446744073709551615s").is_err());
    assert_eq!(p("-24h").resolve(T0).unwrap(), T0 - 86_400);
    assert_eq!(p("now").resolve(T0).unwrap(), T0);
    assert_eq!(p("1508167800").resolve(0).unwrap(), T0);
    assert!(matches!(
        invalid(p("-2h").resolve(3600)),
        InvalidInput::BeforeEpoch { seconds: -3600 }
    ));
    assert!(matches!(
        invalid(TimeSpec::RelativeToNow(i64::MIN).resolve(-1)),
        InvalidInput::BeforeEpoch { .. }
    ));
    assert!(matches!(
        invalid(TimeSpec::RelativeToNow(i64::MAX).resolve(1)),
        InvalidInput::TimeOutOfRange { .. }
    ));
    assert!(matches!(
        invalid(TimeSpec::Absolute(-5).resolve(0)),
        InvalidInput::BeforeEpoch { seconds: -5 }
    ));
}

#[test]
fn counts() {
    assert_eq!(parse_count("0").unwrap(), 0);
    assert_eq!(parse_count("104").unwrap(), 104);
    assert_eq!(parse_count("18446744073709551615").unwrap(), u64::MAX);
    assert_eq!(
        invalid(parse_count("18446744073709551616")),
        InvalidInput::CountOverflow
    );
    assert!(parse_msg(parse_count("")).contains("empty"));
    for bad in ["-1", "+1", "1.0", "1e3", "one", "0x1", "1 2"] {
        assert!(
            matches!(invalid(parse_count(bad)), InvalidInput::Parse(_)),
            "{bad:?}"
        );
    }
}

#[test]
fn csv_layouts() {
    let l = CsvLayout::default();
    assert_eq!(l, CsvLayout::parse("timestamp,tag,count").unwrap());
    let l = CsvLayout::parse("tag,timestamp,count").unwrap();
    assert_eq!(
        (l.timestamp_column(), l.tag_column(), l.count_column()),
        (1, 0, Some(2))
    );
    let l = CsvLayout::parse(" Ticker , TIME ,value").unwrap();
    assert_eq!(
        (l.timestamp_column(), l.tag_column(), l.count_column()),
        (1, 0, Some(2))
    );
    let l = CsvLayout::parse("created_at_utc,tweet_id,hashtag").unwrap();
    assert_eq!(
        (l.timestamp_column(), l.tag_column(), l.count_column()),
        (0, 2, None)
    );
    assert_eq!((l.columns(), l.required_fields()), (3, 3));
    let l = CsvLayout::parse("id,_,created_at,hashtag,n").unwrap();
    assert_eq!(
        (l.timestamp_column(), l.tag_column(), l.count_column()),
        (2, 3, Some(4))
    );
    assert!(parse_msg(CsvLayout::parse("tag,count")).contains("needs a timestamp"));
    assert!(CsvLayout::parse("timestamp,count").is_err());
    assert!(parse_msg(CsvLayout::parse("ts,tag,time")).contains("twice"));
    assert!(parse_msg(CsvLayout::parse("ts,,tag")).contains("no name"));
    assert!(CsvLayout::parse("").is_err());
}

#[test]
fn csv_split() {
    let f = |s: &str| -> Vec<String> { split_csv_line(s).unwrap() };
    assert_eq!(f("a,b,c"), ["a", "b", "c"]);
    assert_eq!(f("a,b,c\r\n"), ["a", "b", "c"]);
    assert_eq!(f(""), [""]);
    assert_eq!(f(","), ["", ""]);
    assert_eq!(f("a,"), ["a", ""]);
    assert_eq!(f(r#""a,b",c"#), ["a,b", "c"]);
    assert_eq!(f(r#""""#), [""]);
    assert_eq!(f(r#""""""#), ["\""]);
    assert_eq!(f(r#"x,"he said ""hi""","#), ["x", "he said \"hi\"", ""]);
    assert_eq!(f(r#"a"b,c"#), ["a\"b", "c"]);
    assert_eq!(f(" a , b "), [" a ", " b "]);
    assert_eq!(f("é,\"ü,ß\""), ["é", "ü,ß"]);
    assert_eq!(f("\u{feff}\"a\",b"), ["a", "b"]);
    // A quote never closed is what a field spanning lines looks like.
    for open in [r#""a,b"#, r#"x,"a"""#, r#"x,"a""b"#, "\"", "1,\"open\r\n"] {
        let m = parse_msg(split_csv_line(open));
        assert!(m.contains("never closed"), "{open:?}: {m}");
    }
    assert_eq!(f(r#"x,"a""#), ["x", "a"]);
    // The csv crate's leniency: text after a closing quote joins the field.
    assert_eq!(f(r#""a"b,c"#), ["ab", "c"]);
    // A line break inside a line (possible only from a direct caller).
    assert!(parse_msg(split_csv_line("a,b\nc,d")).contains("line break"));
    assert_eq!(f("a,\"b\nc\""), ["a", "b\nc"]);
}

#[test]
fn quoted_fields() {
    let l = CsvLayout::default();
    let e = parse_csv_line(r##""1508167800","#MeToo","3""##, &l).unwrap();
    assert_eq!((e.ts, e.tag.as_str(), e.count), (T0, "#MeToo", 3));
    let e = parse_csv_line(r#"1508167800,"a,b",2"#, &l).unwrap();
    assert_eq!((e.tag.as_str(), e.count), ("a,b", 2));
    let e = parse_csv_line(r#"1508167800,"say ""hi""""#, &l).unwrap();
    assert_eq!((e.tag.as_str(), e.count), ("say \"hi\"", 1));
    let e = parse_csv_line("\"2017-10-16 15:30:00\",metoo,\"\"\r\n", &l).unwrap();
    assert_eq!((e.ts, e.count), (T0, 1));
    let e = parse_csv_line("\u{feff}\"2017-10-16T15:30:00Z\",metoo", &l).unwrap();
    assert_eq!(e.ts, T0);
    // A comma inside quotes does not count as a field separator.
    let nab = CsvLayout::parse("tag,timestamp,count").unwrap();
    let e = parse_csv_line(r#""A,B","2015-02-26 21:42:53","104""#, &nab).unwrap();
    assert_eq!((e.tag.as_str(), e.count), ("A,B", 104));
    let m = parse_msg(parse_csv_line(r#"1508167800,"metoo,1"#, &l));
    assert!(m.contains("never closed"), "{m}");
    assert!(is_csv_header(r#""timestamp","tag","count""#, &l));
}

#[test]
fn csv_lines() {
    let l = CsvLayout::default();
    let e = parse_csv_line("2017-10-16T15:30:00Z,#MeToo,3", &l).unwrap();
    assert_eq!(
        e,
        Event {
            ts: T0,
            tag: "#MeToo".into(),
            count: 3,
            labels: vec![],
        }
    );
    assert_eq!(parse_csv_line("1508167800,metoo", &l).unwrap().count, 1);
    assert_eq!(parse_csv_line("1508167800,metoo,", &l).unwrap().count, 1);
    assert_eq!(
        parse_csv_line("1508167800,metoo, 7 \r", &l).unwrap().count,
        7
    );
    assert_eq!(
        parse_csv_line("\"2017-10-16 15:30:00\",\"a,b\",2", &l)
            .unwrap()
            .tag,
        "a,b"
    );
    let m = parse_msg(parse_csv_line("1508167800", &l));
    assert!(
        m.contains("1 field") && m.contains("at least 2 expected"),
        "{m}"
    );
    let m = parse_msg(parse_csv_line("1508167800,a,b,3", &l));
    assert!(m.contains("4 fields") && m.contains("quote"), "{m}");
    assert!(parse_msg(parse_csv_line("", &l)).contains("empty"));
    assert!(parse_msg(parse_csv_line("  \r", &l)).contains("empty"));
    assert!(parse_csv_line("garbage,metoo,1", &l).is_err());
    assert!(parse_csv_line("1508167800,metoo,x", &l).is_err());
    assert!(parse_csv_line("1508167800,metoo,-1", &l).is_err());
    assert!(matches!(
        invalid(parse_csv_line("-60,metoo,1", &l)),
        InvalidInput::BeforeEpoch { seconds: -60 }
    ));
    assert_eq!(
        invalid(parse_csv_line("0,metoo,99999999999999999999", &l)),
        InvalidInput::CountOverflow
    );
    let nab = CsvLayout::parse("tag,timestamp,count").unwrap();
    let e = parse_csv_line("AAPL,2015-02-26 21:42:53,104", &nab).unwrap();
    assert_eq!(
        e,
        Event {
            ts: 1_424_986_973,
            tag: "AAPL".into(),
            count: 104,
            labels: vec![],
        }
    );
    let m = parse_msg(parse_csv_line("AAPL", &nab));
    assert!(m.contains("at least 2 expected"), "{m}");
    let occ = CsvLayout::parse("created_at_utc,tweet_id,hashtag").unwrap();
    let e = parse_csv_line("2018-10-01T00:06:25.489Z,1046551874323845120,MeToo", &occ).unwrap();
    assert_eq!((e.ts, e.tag.as_str(), e.count), (1_538_352_385, "MeToo", 1));
    let m = parse_msg(parse_csv_line("2018-10-01T00:06:25.489Z,1", &occ));
    assert!(m.contains("2 fields; at least 3 expected"), "{m}");
}

#[test]
fn csv_headers() {
    let l = CsvLayout::default();
    assert!(is_csv_header("timestamp,tag,count", &l));
    assert!(is_csv_header("\u{feff}ts,tag\r", &l));
    assert!(is_csv_header("\"Created At\",tag", &l));
    assert!(!is_csv_header("1508167800,metoo,1", &l));
    assert!(!is_csv_header("2017-13-01,metoo,1", &l));
    assert!(!is_csv_header("", &l));
    assert!(!is_csv_header("\"open", &l));
    assert!(!is_csv_header("\"ts,tag", &l));
    let nab = CsvLayout::parse("tag,timestamp,count").unwrap();
    assert!(is_csv_header("ticker,timestamp,value", &nab));
    assert!(!is_csv_header("ticker", &nab));
    let occ = CsvLayout::parse("created_at_utc,tweet_id,hashtag").unwrap();
    assert!(is_csv_header("created_at_utc,tweet_id,hashtag", &occ));
    // Data with its columns in another order, or a part of a file without its header, holds
    // a time: rejected as data, not skipped as a header.
    assert!(!is_csv_header("b,1508167860,2", &l));
    assert!(!is_csv_header("AAPL,2015-02-26 21:42:53,104", &l));
    // Only the role columns decide: another column may be named by a number.
    assert!(is_csv_header("timestamp,tag,count,2019", &l));
    // Quoted names name the columns too.
    let q = CsvLayout::parse(r#""ticker","timestamp","value""#).unwrap();
    assert_eq!(q, nab);
}

/// A record as `trendlog export` writes it, through the `csv` crate.
fn csv_record(fields: &[&str]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(fields).unwrap();
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

#[test]
fn csv_writing() {
    assert_eq!(csv_record(&["1", "metoo", "2"]), "1,metoo,2\n");
    assert_eq!(csv_record(&["1", "a,b", "2"]), "1,\"a,b\",2\n");
    assert_eq!(csv_record(&["1", "\"", "2"]), "1,\"\"\"\",2\n");
    assert_eq!(csv_record(&["1", "a\nb", "2"]), "1,\"a\nb\",2\n");
    assert_eq!(csv_record(&["1", "a b", "2"]), "1,a b,2\n");
    // A field that is only a byte-order mark (once a proptest failure, kept in
    // proptest-regressions/): not at the start of the line, so kept.
    let line = csv_record(&["1", "\u{feff}"]);
    assert_eq!(split_csv_line(&line).unwrap(), ["1", "\u{feff}"]);
}

#[test]
fn ndjson_lines() {
    let p = |s: &str| parse_ndjson_line(s).unwrap();
    assert_eq!(
        p(r##"{"ts": 1508167800, "tag": "#MeToo", "count": 3}"##),
        Event {
            ts: T0,
            tag: "#MeToo".into(),
            count: 3,
            labels: vec![],
        }
    );
    assert_eq!(p(r#"{"tag":"a","ts":1508167800}"#).count, 1);
    assert_eq!(p(r#"{"tag":"a","ts":1508167800,"count":null}"#).count, 1);
    assert_eq!(p(r#"{"tag":"a","ts":1508167800,"count":"12"}"#).count, 12);
    assert_eq!(p(r#"{"tag":"a","ts":1508167800.75}"#).ts, T0);
    assert_eq!(p(r#"{"tag":"a","ts":1.5081678e9}"#).ts, T0);
    assert_eq!(p(r#"{"tag":"a","ts":15081678E2}"#).ts, T0);
    assert_eq!(
        p(r#"{"tag":"a","timestamp":"2017-10-16T17:30:00+02:00"}"#).ts,
        T0
    );
    assert_eq!(p(r#"{"tag":"a","time":"2017-10-16 15:30:00"}"#).ts, T0);
    assert_eq!(
        p(" \t{ \"ts\" : \"1508167800\" , \"tag\" : \"a\" } \r").ts,
        T0
    );
    // Unknown keys of any type are skipped, nested ones included.
    let e = p(
        r#"{"id":1,"ok":true,"x":false,"y":null,"user":{"n":[1,{"a":[]},"}"]},"z":[],"ts":1508167800,"tag":"a","w":-1.5e-3}"#,
    );
    assert_eq!((e.ts, e.tag.as_str(), e.count), (T0, "a", 1));
    // Escapes.
    assert_eq!(p(r#"{"ts":0,"tag":"caf\u00e9"}"#).tag, "café");
    assert_eq!(p(r#"{"ts":0,"tag":"caf\u00E9"}"#).tag, "café");
    assert_eq!(p(r#"{"ts":0,"tag":"\ud83d\udd25"}"#).tag, "🔥");
    assert_eq!(p(r#"{"ts":0,"tag":"🔥"}"#).tag, "🔥");
    assert_eq!(
        p(r#"{"ts":0,"tag":"a\"b\\c\/d\n\t\r\b\f"}"#).tag,
        "a\"b\\c/d\n\t\r\u{8}\u{c}"
    );
    assert_eq!(p(r#"{"ts":0,"tag":"é\u0041x"}"#).tag, "éAx");
    assert_eq!(p(r#"{"t\u0073":0,"tag":"x"}"#).ts, 0);
}

#[test]
fn ndjson_rejections() {
    let m = |s: &str| parse_msg(parse_ndjson_line(s));
    assert!(m(r#"{"tag":"metoo"}"#).contains("no timestamp"));
    assert!(m(r#"{"ts":0}"#).contains("no tag"));
    assert!(m(r#"{"ts":0,"tag":1}"#).contains("must be a string"));
    assert!(m(r#"{"ts":true,"tag":"a"}"#).contains("timestamp is true or false"));
    assert!(m(r#"{"ts":{},"tag":"a"}"#).contains("object or array"));
    assert!(m(r#"{"ts":0,"tag":"a","count":-1}"#).contains("negative"));
    assert!(m(r#"{"ts":0,"tag":"a","count":1.5}"#).contains("not a count"));
    assert!(m(r#"{"ts":0,"tag":"a","count":[]}"#).contains("whole number"));
    assert!(m(r#"{"ts":0,"time":1,"tag":"a"}"#).contains("more than once"));
    assert!(m(r#"{"ts":0,"tag":"a","tag":"b"}"#).contains("more than once"));
    let twice = r#"{"ts":0,"tag":"a","labels":{"platform":"tw","platform":"fb"}}"#;
    assert!(
        m(twice).contains("\"platform\" is given twice"),
        "{}",
        m(twice)
    );
    assert!(m(r#"{"ts":0,"tag":"a","labels":{"platform":1}}"#).contains("not a string"));
    assert!(m(r#"{"ts":0,"tag":"a","labels":["tw"]}"#).contains("or null (no labels)"));
    // null is no labels, as a missing "labels" is.
    for line in [
        r#"{"ts":0,"tag":"a","labels":null}"#,
        r#"{"ts":0,"tag":"a","labels": null }"#,
    ] {
        assert_eq!(parse_ndjson_line(line).unwrap().labels, vec![], "{line}");
    }
    assert!(m("").contains("empty"));
    assert_eq!(
        invalid(parse_ndjson_line(r#"{"ts":-60,"tag":"a"}"#)),
        InvalidInput::BeforeEpoch { seconds: -60 }
    );
    assert!(matches!(
        invalid(parse_ndjson_line(r#"{"ts":-1e3,"tag":"a"}"#)),
        InvalidInput::BeforeEpoch { seconds: -1000 }
    ));
    assert!(m(r#"{"ts":1e300,"tag":"a"}"#).contains("\"1e300\" is past the last minute"));
    assert_eq!(
        invalid(parse_ndjson_line(r#"{"ts":1e12,"tag":"a"}"#)),
        InvalidInput::TimeOutOfRange {
            seconds: 1_000_000_000_000
        }
    );
    assert!(matches!(
        invalid(parse_ndjson_line(r#"{"ts":1e999,"tag":"a"}"#)),
        InvalidInput::Parse(_) | InvalidInput::TimeOutOfRange { .. }
    ));
    assert_eq!(
        invalid(parse_ndjson_line(
            r#"{"ts":0,"tag":"a","count":99999999999999999999}"#
        )),
        InvalidInput::CountOverflow
    );
    for bad in [
        "{",
        "}",
        "[]",
        "{}",
        "null",
        r#"{"ts":0,"tag":"a",}"#,
        r#"{"ts":0,"tag":"a"} {"ts":0}"#,
        r#"{"ts":0,"tag":"a"}x"#,
        r#"{"ts":0 "tag":"a"}"#,
        r#"{"ts" 0,"tag":"a"}"#,
        r#"{ts:0,"tag":"a"}"#,
        r#"{'ts':0,"tag":"a"}"#,
        r#"{"ts":00,"tag":"a"}"#,
        r#"{"ts":01,"tag":"a"}"#,
        r#"{"ts":+1,"tag":"a"}"#,
        r#"{"ts":1.,"tag":"a"}"#,
        r#"{"ts":.5,"tag":"a"}"#,
        r#"{"ts":1e,"tag":"a"}"#,
        r#"{"ts":0,"tag":"a\x"}"#,
        r#"{"ts":0,"tag":"a\u12"}"#,
        r#"{"ts":0,"tag":"a\u12g4"}"#,
        r#"{"ts":0,"tag":"\ud83d"}"#,
        r#"{"ts":0,"tag":"\ud83dx"}"#,
        r#"{"ts":0,"tag":"\ud83d\u0041"}"#,
        r#"{"ts":0,"tag":"\udd25"}"#,
        "{\"ts\":0,\"tag\":\"a\tb\"}",
        r#"{"ts":0,"tag":"open}"#,
        r#"{"ts":0,"tag":"a","x":tru}"#,
        r#"{"ts":0,"tag":"a","x":nul}"#,
        r#"{"ts":0,"tag":"a","x":[1,]}"#,
        r#"{"ts":0,"tag":"a","x":{"k"}}"#,
        r#"{"ts":0,"tag":"a","x":{1:2}}"#,
        r#"{"ts":0,"tag":"a","x":[}"#,
        r#"{"ts":0,"tag":"a" // comment
        }"#,
    ] {
        assert!(
            matches!(invalid(parse_ndjson_line(bad)), InvalidInput::Parse(_)),
            "{bad:?}"
        );
    }
    let deep = format!(
        "{{\"ts\":0,\"tag\":\"a\",\"x\":{}{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    // serde_json skips unknown values without recursion, so depth is no risk.
    assert!(parse_ndjson_line(&deep).is_ok());
    let ok = format!(
        "{{\"ts\":0,\"tag\":\"a\",\"x\":{}{}}}",
        "[".repeat(20),
        "]".repeat(20)
    );
    assert!(parse_ndjson_line(&ok).is_ok());
    let deep = format!("{{\"ts\":0,\"tag\":\"a\",\"x\":{}", "[".repeat(100_000));
    assert!(parse_ndjson_line(&deep).is_err());
    assert!(m(r#"{"ts":0,"tag":"a"}x"#).contains("byte 19"));
}

#[test]
fn tweet_ids() {
    // Independent computation: the top 42 bits are milliseconds since the
    // Twitter epoch; divide instead of shifting, in 128-bit arithmetic.
    let id: u64 = 929_000_000_000_000_000;
    let ms = u128::from(id) / (1u128 << 22) + 1_288_834_974_657;
    assert_eq!(ms, 1_510_325_834_642);
    assert_eq!(tweet_id_to_unix(id).unwrap(), 1_510_325_834);
    assert_eq!(
        format_rfc3339(tweet_id_to_unix(id).unwrap()),
        "2017-11-10T14:57:14Z"
    );
    assert_eq!(tweet_id_to_unix(0).unwrap(), 1_288_834_974);
    assert_eq!(tweet_id_to_unix(u64::MAX).unwrap(), 5_686_881_485);
    // A tweet's id and its created_at agree (from the 2018-2020 data).
    assert_eq!(
        tweet_id_to_unix(1_046_551_874_323_845_120).unwrap(),
        parse_timestamp("2018-10-01T00:06:25.489Z").unwrap()
    );
    assert_eq!(
        parse_tweet_id_line("929207504843739136").unwrap(),
        Some(929_207_504_843_739_136)
    );
    assert!(parse_msg(parse_tweet_id_line(" 42 \r")).contains("carries no time"));
    // The last sequential ids (2010) and the first second of Snowflake ids.
    assert!(parse_tweet_id_line("29700859247").is_err());
    assert!(parse_tweet_id_line("251658239999").is_err());
    assert_eq!(
        parse_tweet_id_line("251658240000").unwrap(),
        Some(60_000 << 22)
    );
    assert_eq!(parse_tweet_id_line("tweet_id").unwrap(), None);
    assert_eq!(parse_tweet_id_line("id").unwrap(), None);
    assert_eq!(parse_tweet_id_line("ID\r").unwrap(), None);
    assert_eq!(parse_tweet_id_line("\u{feff}id").unwrap(), None);
    assert_eq!(parse_tweet_id_line("").unwrap(), None);
    assert_eq!(parse_tweet_id_line(" \r").unwrap(), None);
    assert_eq!(
        parse_tweet_id_line("18446744073709551615").unwrap(),
        Some(u64::MAX)
    );
    assert!(parse_msg(parse_tweet_id_line("18446744073709551616")).contains("larger"));
    for bad in ["-1", "+1", "1.0", "12ab", "1 2", "ids", "\"1\""] {
        assert!(parse_tweet_id_line(bad).is_err(), "{bad:?}");
    }
}

/// The real data beside the checkout (see `../shared/data/SOURCES.md`).
#[test]
fn real_data_parses_without_rejections() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if !dir.is_dir() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
    };
    let day = |s: &str| parse_timestamp(s).unwrap();

    // NAB realTweets: ten tickers every five minutes, at hh:m2:53 and hh:m7:53.
    let layout = CsvLayout::parse("tag,timestamp,count").unwrap();
    let text = read("nab_realTweets_volume_5min.csv");
    let mut lines = text.lines();
    assert!(is_csv_header(lines.next().unwrap(), &layout));
    let mut tickers = std::collections::BTreeSet::new();
    let (mut n, mut total) = (0usize, 0u64);
    for (i, line) in lines.enumerate() {
        assert!(!is_csv_header(line, &layout), "line {}", i + 2);
        let e = parse_csv_line(line, &layout)
            .unwrap_or_else(|err| panic!("NAB line {}: {err}: {line:?}", i + 2));
        assert!(
            (day("2015-02-26")..day("2015-04-24")).contains(&e.ts),
            "{line}"
        );
        assert_eq!(e.ts % 60, 53, "{line}");
        assert_eq!((e.ts / 60) % 5, 2, "{line}");
        tickers.insert(e.tag);
        total += e.count;
        n += 1;
    }
    assert_eq!(n, 158_631);
    assert_eq!(tickers.len(), 10);
    assert!(total > 0);

    // 2018-2020 hashtag occurrences: created_at agrees with the tweet id.
    let layout = CsvLayout::parse("created_at_utc,tweet_id,hashtag").unwrap();
    let text = read("metoo_2018-2020_hashtag_occurrences.csv");
    let mut lines = text.lines();
    assert!(is_csv_header(lines.next().unwrap(), &layout));
    let mut tags = std::collections::BTreeSet::new();
    let mut n = 0usize;
    for (i, line) in lines.enumerate() {
        let e = parse_csv_line(line, &layout)
            .unwrap_or_else(|err| panic!("hashtag line {}: {err}: {line:?}", i + 2));
        assert!(
            (day("2018-10-01")..day("2020-03-02")).contains(&e.ts),
            "{line}"
        );
        assert_eq!(e.count, 1);
        let id = split_csv_line(line).unwrap()[1].parse::<u64>().unwrap();
        assert_eq!(tweet_id_to_unix(id).unwrap(), e.ts, "{line}");
        let tag = trendlog::tag::normalize(&e.tag)
            .unwrap_or_else(|err| panic!("hashtag line {}: {err}", i + 2));
        tags.insert(tag.into_owned());
        n += 1;
    }
    assert_eq!(n, 9_516);
    assert!(
        tags.contains("metoo") && tags.len() <= 414,
        "{}",
        tags.len()
    );

    // #MeToo tweet ids of 2017-11-10, newest first.
    let text = read("metoo_tweet_ids_2017-11-10.csv");
    let mut ids = 0usize;
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    for (i, line) in text.lines().enumerate() {
        let Some(id) = parse_tweet_id_line(line)
            .unwrap_or_else(|err| panic!("id line {}: {err}: {line:?}", i + 1))
        else {
            assert_eq!(i, 0, "only the header is not an id");
            continue;
        };
        let ts = tweet_id_to_unix(id).unwrap();
        first = first.min(ts);
        last = last.max(ts);
        ids += 1;
    }
    assert_eq!(ids, 11_614);
    assert!(
        first >= day("2017-11-10 18:40:00"),
        "{}",
        format_rfc3339(first)
    );
    assert!(
        last < day("2017-11-11 04:42:00"),
        "{}",
        format_rfc3339(last)
    );
}

/// A JSON string literal for `s`, escaping the way other encoders may:
/// `\uXXXX` (with surrogate pairs) for every non-ASCII character when
/// `ascii_only`, short escapes for the rest.
fn json_string(s: &str, ascii_only: bool) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 || (ascii_only && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

proptest! {
    #[test]
    fn parsers_never_panic(s in any::<String>()) {
        let _ = parse_timestamp(&s);
        let _ = parse_duration(&s);
        let _ = parse_time_spec(&s).map(|t| t.resolve(T0));
        let _ = parse_count(&s);
        let _ = CsvLayout::parse(&s);
        let _ = split_csv_line(&s);
        let _ = parse_csv_line(&s, &CsvLayout::default());
        let _ = is_csv_header(&s, &CsvLayout::default());
        let _ = parse_ndjson_line(&s);
        let _ = parse_tweet_id_line(&s);
    }

    #[test]
    fn structured_garbage_never_panics(
        s in "[-+0-9:.TtZz ,\"{}\\[\\]\\\\u:a-f#nowhsd]{0,40}"
    ) {
        let _ = parse_timestamp(&s);
        let _ = parse_time_spec(&s).map(|t| t.resolve(0));
        let _ = parse_duration(&s);
        let _ = parse_csv_line(&s, &CsvLayout::default());
        let _ = parse_ndjson_line(&s);
        let _ = parse_ndjson_line(&format!("{{\"ts\":{s},\"tag\":\"a\"}}"));
        let _ = parse_ndjson_line(&format!("{{\"ts\":0,\"tag\":\"{s}\"}}"));
    }

    #[test]
    fn ids_never_panic(id in any::<u64>()) {
        let secs = tweet_id_to_unix(id).unwrap();
        prop_assert!(secs >= 1_288_834_974);
    }

    #[test]
    fn rfc3339_round_trip(secs in 0i64..253_402_300_800) {
        let text = format_rfc3339(secs);
        prop_assert_eq!(parse_timestamp(&text).unwrap(), secs);
        prop_assert_eq!(parse_timestamp(&text.replace('T', " ").replace('Z', "")).unwrap(), secs);
        prop_assert_eq!(parse_timestamp(&secs.to_string()).unwrap(), secs);
    }

    #[test]
    fn offsets_shift_the_local_time(
        secs in 86_400i64..253_402_214_400,
        offset_min in -(23 * 60 + 59)..=(23 * 60 + 59i64),
    ) {
        let local = format_rfc3339(secs + offset_min * 60);
        let sign = if offset_min < 0 { '-' } else { '+' };
        let a = offset_min.abs();
        let text = format!("{}{sign}{:02}:{:02}", &local[..19], a / 60, a % 60);
        prop_assert_eq!(parse_timestamp(&text).unwrap(), secs);
    }

    #[test]
    fn written_csv_reads_back(
        fields in proptest::collection::vec("(\\PC|[\r\n\",\u{feff}]){0,12}", 1..5)
    ) {
        // As export writes: a timestamp first, so no field starts the line.
        let mut record = vec!["1508167800".to_string()];
        record.extend(fields);
        let refs: Vec<&str> = record.iter().map(String::as_str).collect();
        let line = csv_record(&refs);
        prop_assert_eq!(split_csv_line(&line).unwrap(), record);
    }

    #[test]
    fn ndjson_tag_round_trips(tag in "\\PC{1,20}", ascii_only in any::<bool>(), count in any::<u64>()) {
        let line = format!(
            "{{\"ts\": 1508167800, \"tag\": {}, \"count\": {count}}}",
            json_string(&tag, ascii_only)
        );
        let e = parse_ndjson_line(&line).unwrap();
        prop_assert_eq!(e, Event { ts: T0, tag, count, labels: vec![] });
    }

    #[test]
    fn durations_sum_their_parts(d in 0u64..1000, h in 0u64..1000, m in 0u64..1000, s in 0u64..1000) {
        let text = format!("{d}d{h}h{m}m{s}s");
        prop_assert_eq!(
            parse_duration(&text).unwrap().as_secs(),
            d * 86_400 + h * 3600 + m * 60 + s
        );
    }
}

#[test]
fn ndjson_reports_the_keys_it_ignores() {
    let keys = |l: &str| parse_ndjson_line_keys(l).unwrap().1;
    assert_eq!(keys(r#"{"ts":1,"tag":"a","platform":"x"}"#), ["platform"]);
    assert_eq!(
        keys(r#"{"id":7,"ts":1,"label":{"platform":"x"},"tag":"a"}"#),
        ["id", "label"]
    );
    assert!(keys(r#"{"ts":1,"tag":"a","labels":{"platform":"x"}}"#).is_empty());
    let (e, k, count_given) =
        parse_ndjson_line_keys(r#"{"ts":1,"tag":"a","region":"r","labels":{"platform":"x"}}"#)
            .unwrap();
    assert_eq!((e.labels.len(), k), (1, vec!["region".to_string()]));
    assert!(!count_given);
    let given = |s: &str| parse_ndjson_line_keys(s).unwrap().2;
    assert!(given(r#"{"ts":1,"tag":"a","n":null}"#));
    assert!(given(r#"{"ts":1,"tag":"a","value":3,"Count":2}"#));
    assert!(!given(r#"{"ts":1,"tag":"a","Count":2}"#));
}
