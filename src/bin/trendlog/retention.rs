//! `trendlog retention`: show or change how long the store keeps minutes and
//! hours. Retention is stored in the store, so every reader and writer agrees.

use serde_json::json;
use trendlog::{Options, Retention, Store};

use crate::out::{self, CmdResult};
use crate::Global;

/// Show the store's retention, or change it with `--minutes` / `--hours`.
///
/// Minutes older than the minute retention (measured back from the store's
/// newest minute, not the wall clock) are rolled into hourly buckets by the
/// next compaction; data older than the hour retention is dropped. Each is a
/// duration (`7d`, `36h`, rounded down to whole hours, at least 1h) or
/// `forever`. The hour retention drops all older data, minutes included, so
/// minutes are held for the shorter of the two. Where the store keeps other
/// than what was asked, or holds minutes for less time than asked, a line on
/// stderr says so.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Changing retention needs the store's write lock (exit 1 if it is locked). Reads
follow it at once (data older than the hour retention is left out); the next
`trendlog compact` rolls minutes up and deletes that data, and until it runs a
longer hour retention brings the data back. A new store gets its retention from the
first writing command's --minute-retention/--hour-retention (default: minutes
7 days, hours forever).

JSON: {\"minute_retention_minutes\":N|null,\"hour_retention_minutes\":N|null,
       \"minutes_held_minutes\":N|null}  (null: forever; minutes are held for the shorter of
      the two retentions, since the hour retention drops all older data)

Examples:
  trendlog --db ./trendlog-data retention
  trendlog --db ./trendlog-data retention --minutes 90d --hours forever")]
pub struct Args {
    /// New minute retention: a duration such as `30d`, or `forever`.
    #[arg(long, value_name = "DURATION", value_parser = parse_retention, allow_hyphen_values = true)]
    pub minutes: Option<Keep>,
    /// New hour retention: a duration such as `400d`, or `forever`.
    #[arg(long, value_name = "DURATION", value_parser = parse_retention, allow_hyphen_values = true)]
    pub hours: Option<Keep>,
}

/// A retention given on the command line: whole minutes, or forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep(pub Option<u32>);

/// Parses `forever` or a duration of at least one hour.
pub fn parse_retention(s: &str) -> Result<Keep, String> {
    if s.eq_ignore_ascii_case("forever") {
        return Ok(Keep(None));
    }
    let d = crate::parse::parse_duration(s).map_err(|e| e.to_string())?;
    let minutes = d.as_secs() / 60;
    if minutes < 60 {
        return Err(format!(
            "a retention of {s} is shorter than one hour; give at least 1h, or `forever`"
        ));
    }
    let minutes = u32::try_from(minutes).map_err(|_| format!("{s} is too long; use `forever`"))?;
    Ok(Keep(Some(minutes)))
}

/// How a retention reads to a person.
pub fn describe(minutes: Option<u32>) -> String {
    match minutes {
        None => "forever".into(),
        Some(m) if m % 1440 == 0 => format!("{} d", m / 1440),
        Some(m) if m % 60 == 0 => format!("{} h", m / 60),
        Some(m) => format!("{m} min"),
    }
}

/// The retention the flags ask for, over `old` where a flag is absent.
pub fn asked(old: Retention, minutes: Option<Keep>, hours: Option<Keep>) -> Retention {
    Retention {
        minute_minutes: minutes.map_or(old.minute_minutes, |k| k.0),
        hour_minutes: hours.map_or(old.hour_minutes, |k| k.0),
    }
}

/// Tells the user on stderr where the store keeps a retention other than
/// the one asked for (rounded down to whole hours), and when the hour
/// retention, which drops all older data, holds minutes for less time than
/// the minute retention says.
pub fn say_kept(asked: Retention, kept: Retention) {
    let pairs = [
        ("minute", asked.minute_minutes, kept.minute_minutes),
        ("hour", asked.hour_minutes, kept.hour_minutes),
    ];
    for (what, a, k) in pairs {
        if a != k {
            err_line!(
                "trendlog: {what} retention {}: retention is kept in whole hours; kept {}",
                describe(a),
                describe(k)
            );
        }
    }
    if kept.minutes_in_effect() != kept.minute_minutes {
        err_line!("trendlog: {}", in_effect(kept));
    }
}

/// How long minutes are held when the hour retention cuts them short.
fn in_effect(r: Retention) -> String {
    format!(
        "minutes are held {} (the hour retention drops all older data), not the minute \
         retention's {}",
        describe(r.minutes_in_effect()),
        describe(r.minute_minutes)
    )
}

/// The minute retention for people, with the time minutes are actually held
/// when the hour retention is shorter.
pub fn describe_minutes(r: Retention) -> String {
    if r.minutes_in_effect() == r.minute_minutes {
        describe(r.minute_minutes)
    } else {
        format!(
            "{} ({} in effect: the hour retention drops all older data)",
            describe(r.minute_minutes),
            describe(r.minutes_in_effect())
        )
    }
}

pub fn run(g: &Global, a: Args) -> CmdResult {
    out::require_store(&g.db)?;
    let r = if a.minutes.is_none() && a.hours.is_none() {
        out::open_read(&g.db)?.retention()
    } else {
        let store = Store::open(&g.db, Options::default().background_compaction(false))?;
        let old = store.retention();
        let new = asked(old, a.minutes, a.hours);
        let changed = new.normalized() != old;
        if changed {
            store.set_retention(new)?;
        }
        let now = store.retention();
        store.close()?;
        say_kept(new, now);
        if !g.json {
            // None is forever: the longest.
            let shorter = |new: Option<u32>, old: Option<u32>| match (new, old) {
                (Some(n), Some(o)) => n < o,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if changed && shorter(now.hour_minutes, old.hour_minutes) {
                println!(
                    "changed; reads leave out data older than the hour retention at once, and \
                     the next `trendlog compact` rolls minutes into hours and deletes that data \
                     (until it runs, a longer hour retention brings the data back)"
                );
            } else if changed {
                println!(
                    "changed; the next `trendlog compact` rolls minutes older than the minute \
                     retention into hours"
                );
            } else {
                println!("unchanged");
            }
        }
        now
    };
    if g.json {
        out::print_json(&json!({
            "minute_retention_minutes": r.minute_minutes,
            "hour_retention_minutes": r.hour_minutes,
            "minutes_held_minutes": r.minutes_in_effect(),
        }));
        return Ok(());
    }
    println!("minutes kept  {}", describe_minutes(r));
    println!("hours kept    {}", describe(r.hour_minutes));
    Ok(())
}

/// The retention a new store gets from a writing command's flags.
pub fn options_for_new_store(opts: Options, minutes: Option<Keep>, hours: Option<Keep>) -> Options {
    let to_duration = |m: Option<u32>| m.map(|m| std::time::Duration::from_secs(u64::from(m) * 60));
    let mut opts = opts;
    if let Some(Keep(m)) = minutes {
        opts = opts.minute_retention(to_duration(m));
    }
    if let Some(Keep(h)) = hours {
        opts = opts.hour_retention(to_duration(h));
    }
    opts
}
