//! What the read commands share for labelled stores: `--where KEY=VALUE`
//! filters and `--by KEY` group-by, checked against the store's label keys so
//! a typo exits 2 with the known keys listed.

use trendlog::labels::Filter;
use trendlog::Snapshot;

use crate::out::Fail;

/// `--where` and `--by`, flattened into a command's arguments.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Select {
    /// Only series with this label value (KEY=VALUE; repeat to require several). VALUE is
    /// normalised as on input: a held value starting with `#` (`#tw`, shown by --by) is
    /// typed with another, `##tw`, as a tag is.
    #[arg(long = "where", value_name = "KEY=VALUE")]
    pub conds: Vec<String>,
    /// One result per value of this label key.
    #[arg(long, value_name = "KEY")]
    pub by: Option<String>,
}

impl Select {
    /// True when `--where` or `--by` narrows or splits the question.
    pub fn narrows(&self) -> bool {
        !self.conds.is_empty() || self.by.is_some()
    }

    /// The filter, its keys checked against the store's (exit 2 otherwise).
    pub fn filter(&self, snap: &Snapshot) -> Result<Filter, Fail> {
        let f = Filter::parse(&self.conds).map_err(|e| Fail::usage(format!("--where: {e}")))?;
        f.resolve(snap.label_keys())
            .map_err(|e| Fail::usage(format!("--where: {e}")))?;
        // Conditions are ANDed, and a series has one value per key: two
        // values of one key match nothing, which is never what was meant.
        let pairs = f.pairs();
        for (i, (k, v)) in pairs.iter().enumerate() {
            if let Some((_, other)) = pairs[..i].iter().find(|(k2, v2)| k2 == k && v2 != v) {
                return Err(Fail::usage(format!(
                    "--where gives {k} twice ({other:?} and {v:?}): conditions are all required, \
                     and a series has one value per key, so nothing could match; ask once per \
                     value, or use --by {k}"
                )));
            }
        }
        if let Some(by) = &self.by {
            snap.label_keys()
                .position(by)
                .map_err(|e| Fail::usage(format!("--by: {e}")))?;
        }
        Ok(f)
    }

    /// Says on stderr, when an answer came out `empty`, which `--where`
    /// conditions no series meets: the answer is empty for that reason, not
    /// for lack of events. Asked only then, since it reads the whole label
    /// catalog, which a one-tag query otherwise never decodes.
    pub fn say_if_unmet(&self, snap: &Snapshot, empty: bool) {
        if !empty || self.conds.is_empty() {
            return;
        }
        let Ok(f) = Filter::parse(&self.conds) else {
            return;
        };
        let unmet = snap.unmet_conditions(&f).unwrap_or_default();
        // A condition given twice is said once.
        for (i, (key, value)) in unmet.iter().enumerate() {
            if unmet[..i].contains(&(key.clone(), value.clone())) {
                continue;
            }
            err_line!(
                "trendlog: --where: no series has {key}={value} (`trendlog inspect` lists the \
                 values of {key})"
            );
        }
    }

    /// The values of the `--by` key (most series first), each with the
    /// filter narrowed to it; `None` without `--by`.
    pub fn groups(&self, snap: &Snapshot) -> Result<Option<Vec<(String, Filter)>>, Fail> {
        let base = self.filter(snap)?;
        let Some(by) = &self.by else {
            return Ok(None);
        };
        let values = snap.label_values()?;
        let Some((_, vals)) = values.into_iter().find(|(k, _)| k == by) else {
            return Ok(Some(Vec::new()));
        };
        let mut out = Vec::new();
        for (v, _) in vals {
            let f = base.clone().and_held(by, &v);
            out.push((v, f));
        }
        Ok(Some(out))
    }
}

impl Select {
    /// The groups to answer: one per `--by` value (with its value), or the
    /// one `--where` filter (no value).
    pub fn groups_or_filter(&self, snap: &Snapshot) -> Result<Vec<(Option<String>, Filter)>, Fail> {
        Ok(match self.groups(snap)? {
            Some(gs) => gs.into_iter().map(|(v, f)| (Some(v), f)).collect(),
            None => vec![(None, self.filter(snap)?)],
        })
    }
}

impl Select {
    /// Adds `"by": {"key": KEY, "value": VALUE}` to a JSON row of the
    /// `--by` group `value` (nothing without `--by`).
    pub fn add_by(&self, row: &mut serde_json::Value, value: &Option<String>) {
        if let (Some(by), Some(v)) = (&self.by, value) {
            row["by"] = serde_json::json!({"key": by, "value": v});
        }
    }
}

/// The rank of each row of a table grouped by `--by` value (rows of one
/// value adjacent): counting from 1, again from 1 at each new value.
pub fn group_ranks<'a>(values: impl IntoIterator<Item = &'a Option<String>>) -> Vec<usize> {
    let mut last = None;
    let mut rank = 0;
    values
        .into_iter()
        .map(|v| {
            rank = if last == Some(v) { rank + 1 } else { 1 };
            last = Some(v);
            rank
        })
        .collect()
}

/// Rows ranked per `--by` value, `(value, rows)`, flattened in the order of
/// `groups` (the command's order of the values).
pub fn in_group_order<T>(
    groups: &[(Option<String>, trendlog::labels::Filter)],
    ranked: Vec<(String, Vec<T>)>,
) -> Vec<(Option<String>, T)> {
    let mut ranked: std::collections::HashMap<String, Vec<T>> = ranked.into_iter().collect();
    let mut rows = Vec::new();
    for (value, _) in groups {
        let got = value.as_ref().and_then(|v| ranked.remove(v));
        rows.extend(got.into_iter().flatten().map(|r| (value.clone(), r)));
    }
    rows
}

/// How a label value is shown: the empty value is "(unknown)".
pub fn show_value(v: &str) -> &str {
    if v.is_empty() {
        "(unknown)"
    } else {
        v
    }
}

/// A tag with its series' labels, for tables: `metoo [twitter, chicago]`.
pub fn with_labels(tag: &str, labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return tag.to_string();
    }
    let v: Vec<&str> = labels.iter().map(|(_, v)| show_value(v)).collect();
    format!("{tag} [{}]", v.join(", "))
}

/// A series' labels as a JSON object (`{"platform": "twitter", ...}`).
pub fn labels_json(labels: &[(String, String)]) -> serde_json::Value {
    labels
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::json!(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The filter of `labels` (`(key, value)` pairs, values as held): a
/// series' labels, or the filter a burst was detected within.
pub fn exact(labels: &[(String, String)]) -> Filter {
    labels
        .iter()
        .fold(Filter::all(), |f, (k, v)| f.and_held(k, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_count_again_at_each_group() {
        let v = |s: &str| Some(s.to_string());
        let rows = [v("a"), v("a"), v("b"), v("c"), v("c"), v("c")];
        assert_eq!(group_ranks(&rows), [1, 2, 1, 1, 2, 3]);
        assert_eq!(group_ranks(&[None, None, None]), [1, 2, 3]);
    }
}
