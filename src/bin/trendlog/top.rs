//! `trendlog top`: the tags with the most events in a range.

use serde_json::json;
use trendlog::time::{Step, TimeRange};

use crate::out::{self, Align, CmdResult, Table};
use crate::Global;

/// Print the k tags with the most events in a range (ties by tag).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
--from defaults to the earliest time held, --to to the store's now plus one minute (times are
aligned outwards to whole minutes). Where only 1h buckets are held (data older than the minute
retention, and any time before the first minute held at 1m, data or not), a default --from is
aligned down to a whole hour, and so is a relative edge (-10d), outwards; an absolute edge inside
such an hour is refused. Whenever a default was used or an edge widened, the range is stated on
stderr.

JSON: [{\"tag\":\"...\",\"count\":N},...]
On a labelled store, --where KEY=VALUE ranks only matching series (\"top on Instagram\"); --by KEY
ranks within each value of KEY, and each row gains \"by\":{\"key\":K,\"value\":V}.

Example:
  trendlog top -k 20 --from -24h")]
pub struct Args {
    /// Start of the range (inclusive).
    #[arg(long, allow_hyphen_values = true)]
    pub from: Option<String>,
    /// End of the range (exclusive).
    #[arg(long, allow_hyphen_values = true)]
    pub to: Option<String>,
    /// How many tags.
    #[arg(short, default_value_t = 10)]
    pub k: usize,
    #[command(flatten)]
    pub select: crate::labels::Select,
}

/// The most marks a row's sparkline has.
const SPARK_WIDTH: usize = 48;

pub fn run(g: &Global, a: Args) -> CmdResult {
    let store = out::open_read(&g.db)?;
    let snap = store.snapshot();
    // A bad --where is refused before anything about the range is said.
    let filter = a.select.filter(&snap)?;
    let (from, to) = out::resolve_any_range("top", &snap, a.from.as_deref(), a.to.as_deref())?;
    if a.from.is_some() {
        out::say_dropped_before("top", &store, &snap, from, "no event before it is counted");
    }
    let range = TimeRange::new(from, to)?;
    let groups = match a.select.groups(&snap)? {
        Some(g) => g.into_iter().map(|(v, f)| (Some(v), f)).collect(),
        None => vec![(None, filter.clone())],
    };
    let mut rows = Vec::new();
    match &a.select.by {
        // One pass for every value (a key of 40,000 cities must not mean
        // 40,000 passes), rows in the groups' order.
        Some(by) => {
            let ranked = snap.top_by(range, a.k, &filter, by)?;
            let flat = crate::labels::in_group_order(&groups, ranked);
            // Each row with its group's filter (for its sparkline).
            let mut gs = groups.iter().peekable();
            for (value, r) in flat {
                while gs.peek().is_some_and(|(v, _)| *v != value) {
                    gs.next();
                }
                if let Some((_, f)) = gs.peek() {
                    rows.push((value, f, r));
                }
            }
        }
        None => {
            for (value, f) in &groups {
                for r in snap.top_where(range, a.k, f)? {
                    rows.push((value.clone(), f, r));
                }
            }
        }
    }
    a.select.say_if_unmet(&snap, rows.is_empty());
    if g.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(value, _, r)| {
                let mut row = json!({"tag": r.tag, "count": r.count});
                a.select.add_by(&mut row, value);
                row
            })
            .collect();
        out::print_json(&json!(v));
        return Ok(());
    }
    let by = a.select.by.as_deref().unwrap_or("");
    let hour = Step::Hour.seconds();
    let hr = TimeRange::new(from - from.rem_euclid(hour), (to + hour - 1) / hour * hour)?;
    // The sparkline sums hours into at most SPARK_WIDTH marks: say how many
    // each mark holds (a store of months puts days in one).
    let hours = ((hr.to() - hr.from()) / hour).max(1) as usize;
    let per = match hours.div_ceil(SPARK_WIDTH) {
        p if p > 24 => p.div_ceil(24) * 24, // whole days
        p => p,
    };
    let trend = if per % 24 == 0 {
        format!("trend ({}d per mark)", per / 24)
    } else {
        format!("trend ({per}h per mark)")
    };
    let mut cols = vec![
        ("rank", Align::Right),
        ("tag", Align::Left),
        ("count", Align::Right),
        (trend.as_str(), Align::Left),
    ];
    if a.select.by.is_some() {
        cols.insert(0, (by, Align::Left));
    }
    let mut t = Table::new(&cols);
    let ranks = crate::labels::group_ranks(rows.iter().map(|r| &r.0));
    for ((value, f, r), rank) in rows.iter().zip(ranks) {
        let spark = out::spark_or_damage(
            snap.series_where(&out::typed(&r.tag), hr, Step::Hour, f)
                .map(|s| {
                    let sums: Vec<u64> = s
                        .points
                        .chunks(per)
                        .map(|c| c.iter().map(|p| p.1).sum())
                        .collect();
                    out::sparkline(&sums, sums.len())
                }),
        )?;
        let mut cells = vec![
            rank.to_string(),
            r.tag.clone(),
            out::thousands(r.count),
            spark,
        ];
        if let Some(v) = value {
            cells.insert(0, crate::labels::show_value(v).to_string());
        }
        t.row(cells);
    }
    // Printed once every line was read: damage fails before any output.
    println!("top {} tags  {} → {}", a.k, out::when(from), out::when(to));
    print!("{}", t.render());
    if rows.is_empty() && !out::asked_for_none(a.k) {
        println!("(no events in this range)");
    }
    Ok(())
}
