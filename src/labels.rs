//! Labels: a store may declare up to [`MAX_LABEL_KEYS`] label keys when it is
//! created (for example `platform, region`). A count is then kept per minute
//! per **series**, a series being a tag plus one value per key, and queries
//! sum over the labels they do not filter on.
//!
//! - A **key** is 1 to [`MAX_LABEL_KEY_BYTES`] bytes of `a-z`, `0-9` and `_`,
//!   starting with a letter. Keys are fixed at creation; a typo in a key is an
//!   error ([`InvalidInput::UnknownLabelKey`]), never a new key.
//! - A **value** is normalised exactly like a tag ([`crate::tag::normalize`]:
//!   one leading `#` removed, NFC, lower case, no whitespace or control
//!   characters), at most [`MAX_LABEL_VALUE_BYTES`] bytes; the empty value
//!   means "unknown" and is what a key left out of an add gets.
//!
//! A series is stored in the tag dictionary under its **series key**: the tag,
//! then for each key in declaration order the byte `0x1F` and the value. Tags
//! and values cannot hold control characters, so the key splits back
//! unambiguously, and every series of a tag shares the prefix `tag + 0x1F`.
//!
//! ```
//! use trendlog::labels::{LabelKeys, series_key, split_series_key};
//! let keys = LabelKeys::new(["platform", "region"]).unwrap();
//! let k = series_key("metoo", &keys, &[("region", "Chicago"), ("platform", "instagram")]).unwrap();
//! assert_eq!(k, "metoo\u{1f}instagram\u{1f}chicago");
//! let (tag, values) = split_series_key(&k);
//! assert_eq!(tag, "metoo");
//! assert_eq!(values.collect::<Vec<_>>(), vec!["instagram", "chicago"]);
//! assert!(series_key("metoo", &keys, &[("plattform", "x")]).is_err());
//! ```

use std::fmt;

use crate::error::{InvalidInput, Result};
use crate::tag;

/// The most label keys a store may declare.
pub const MAX_LABEL_KEYS: usize = 8;
/// The longest label key, in bytes.
pub const MAX_LABEL_KEY_BYTES: usize = 32;
/// The longest label value, in bytes of UTF-8 after normalisation.
pub const MAX_LABEL_VALUE_BYTES: usize = 64;
/// The byte that separates a series key's tag and values.
pub const SEPARATOR: char = '\u{1f}';

/// A store's label keys, in declaration order (possibly none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LabelKeys(Vec<String>);

impl LabelKeys {
    /// Validates and keeps `keys` in the order given.
    ///
    /// # Errors
    /// [`InvalidInput::BadLabelKeys`] for more than [`MAX_LABEL_KEYS`] keys, a
    /// repeated key, or a key that is not 1 to 32 bytes of `a-z0-9_` starting
    /// with a letter.
    ///
    /// ```
    /// use trendlog::labels::LabelKeys;
    /// assert_eq!(LabelKeys::new(["platform"]).unwrap().len(), 1);
    /// assert!(LabelKeys::new(["Platform"]).is_err());
    /// assert!(LabelKeys::new(["a", "a"]).is_err());
    /// ```
    pub fn new<S: AsRef<str>>(keys: impl IntoIterator<Item = S>) -> Result<LabelKeys> {
        let keys: Vec<String> = keys.into_iter().map(|k| k.as_ref().to_string()).collect();
        if keys.len() > MAX_LABEL_KEYS {
            return Err(InvalidInput::BadLabelKeys(format!(
                "{} label keys were given; a store may have at most {MAX_LABEL_KEYS}",
                keys.len()
            ))
            .into());
        }
        for (i, k) in keys.iter().enumerate() {
            check_key(k)?;
            if keys[..i].contains(k) {
                return Err(
                    InvalidInput::BadLabelKeys(format!("the label key {k:?} is repeated")).into(),
                );
            }
        }
        Ok(LabelKeys(keys))
    }

    /// Parses a comma-separated list (`"platform,region"`; spaces around
    /// names are ignored, an empty text is no keys).
    ///
    /// ```
    /// use trendlog::labels::LabelKeys;
    /// assert_eq!(LabelKeys::parse(" platform, region ").unwrap().names(), ["platform", "region"]);
    /// assert!(LabelKeys::parse("").unwrap().is_empty());
    /// ```
    pub fn parse(list: &str) -> Result<LabelKeys> {
        if list.trim().is_empty() {
            return Ok(LabelKeys::default());
        }
        LabelKeys::new(list.split(',').map(str::trim))
    }

    /// The keys, in declaration order.
    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for a store without labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The position of `key`, or [`InvalidInput::UnknownLabelKey`] listing the
    /// known keys.
    pub fn position(&self, key: &str) -> Result<usize> {
        self.0.iter().position(|k| k == key).ok_or_else(|| {
            InvalidInput::UnknownLabelKey {
                key: key.to_string(),
                known: self.0.clone(),
            }
            .into()
        })
    }
}

impl fmt::Display for LabelKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

fn check_key(k: &str) -> Result<()> {
    let ok = !k.is_empty()
        && k.len() <= MAX_LABEL_KEY_BYTES
        && k.as_bytes()[0].is_ascii_lowercase()
        && k.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(InvalidInput::BadLabelKeys(format!(
            "the label key {k:?} is not 1 to {MAX_LABEL_KEY_BYTES} bytes of a-z, 0-9 and _ \
             starting with a letter"
        ))
        .into())
    }
}

/// Normalises a label value of `key` (the empty value stays empty: unknown).
///
/// ```
/// use trendlog::labels::normalize_value;
/// assert_eq!(normalize_value("region", "Chicago").unwrap(), "chicago");
/// assert_eq!(normalize_value("region", "").unwrap(), "");
/// assert!(normalize_value("region", "new york").is_err());
/// ```
pub fn normalize_value(key: &str, value: &str) -> Result<String> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let bad = |why: String| {
        InvalidInput::BadLabelValue {
            key: key.to_string(),
            value: value.to_string(),
            why,
        }
        .into()
    };
    let v = tag::normalize(value).map_err(|e| {
        bad(match e {
            crate::Error::InvalidInput(InvalidInput::BadTagChar { ch }) => format!(
                "it holds {ch:?}; whitespace and control characters are not allowed in label values"
            ),
            // A tag's limit is 255 bytes; a label value's is lower.
            crate::Error::InvalidInput(InvalidInput::TagTooLong { len }) => {
                format!("it is {len} bytes long; at most {MAX_LABEL_VALUE_BYTES} are allowed")
            }
            crate::Error::InvalidInput(i) => i.to_string().replacen("the tag", "it", 1),
            other => other.to_string(),
        })
    })?;
    if v.len() > MAX_LABEL_VALUE_BYTES {
        return Err(bad(format!(
            "it is {} bytes long; at most {MAX_LABEL_VALUE_BYTES} are allowed",
            v.len()
        )));
    }
    Ok(v.into_owned())
}

/// Builds the series key of a normalised `tag` with `labels` given by key
/// name (any order; a key left out is unknown, the empty value).
///
/// # Errors
/// [`InvalidInput::UnknownLabelKey`] for a key the store does not declare,
/// [`InvalidInput::BadLabels`] for a key given twice or labels on a store
/// without keys, [`InvalidInput::BadLabelValue`] for a value that fails
/// validation.
pub fn series_key(tag: &str, keys: &LabelKeys, labels: &[(&str, &str)]) -> Result<String> {
    Ok(series_key_of_values(tag, &label_values(keys, labels)?))
}

/// The normalised values of `labels` given by key name (any order; a key
/// left out is unknown, the empty value), one per key in declaration order.
/// Errors as [`series_key`].
pub fn label_values(keys: &LabelKeys, labels: &[(&str, &str)]) -> Result<Vec<String>> {
    if keys.is_empty() {
        return Err(InvalidInput::BadLabels(
            "the store has no label keys; add events without labels".into(),
        )
        .into());
    }
    let mut values: Vec<Option<String>> = vec![None; keys.len()];
    for &(k, v) in labels {
        let i = keys.position(k)?;
        if values[i].is_some() {
            return Err(
                InvalidInput::BadLabels(format!("the label key {k:?} is given twice")).into(),
            );
        }
        values[i] = Some(normalize_value(k, v)?);
    }
    Ok(values.into_iter().map(Option::unwrap_or_default).collect())
}

/// Builds the series key of a normalised `tag` from values already
/// normalised, one per key in declaration order.
pub fn series_key_of_values<S: AsRef<str>>(tag: &str, values: &[S]) -> String {
    let mut out = String::with_capacity(tag.len() + 16 * values.len());
    out.push_str(tag);
    for v in values {
        out.push(SEPARATOR);
        out.push_str(v.as_ref());
    }
    out
}

/// Splits a series key into its tag and its values (in key order). A plain
/// tag splits into itself and no values.
pub fn split_series_key(key: &str) -> (&str, impl Iterator<Item = &str>) {
    let mut parts = key.split(SEPARATOR);
    let tag = parts.next().unwrap_or("");
    (tag, parts)
}

/// True when `key` is a series key (a tag with labels), not a plain tag.
pub fn is_series_key(key: &str) -> bool {
    key.contains(SEPARATOR)
}

/// Checks a series key read back from a file: a normalised tag, then values
/// that are each empty or a normalised value. A value may start with `#`
/// (what `##tw` normalises to), as a tag may: the check is that normalising
/// `#` + value gives the value back.
///
/// ```
/// use trendlog::labels::validate_series_key;
/// assert!(validate_series_key("metoo\u{1f}#tw").is_ok());
/// assert!(validate_series_key("metoo\u{1f}TW").is_err());
/// ```
pub fn validate_series_key(key: &str) -> Result<()> {
    let (t, values) = split_series_key(key);
    tag::validate_normalized(t)?;
    for v in values {
        if !is_normalized_value(v) {
            return Err(InvalidInput::Parse(format!(
                "the label value {v:?} of the series key {key:?} is not normalised"
            ))
            .into());
        }
    }
    Ok(())
}

/// Whether a label value read back from a file is one [`normalize_value`]
/// gives: empty, or at most 64 bytes that normalising `#` + value gives back
/// (a value may start with `#`, what `##tw` normalises to, as a tag may).
pub fn is_normalized_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= MAX_LABEL_VALUE_BYTES
            && normalize_value("?", &format!("#{v}")).is_ok_and(|n| n == v))
}

/// Checks a dictionary key read back from a file: a plain normalised tag, or
/// a series key ([`validate_series_key`]).
pub fn validate_key(key: &str) -> Result<()> {
    if is_series_key(key) {
        validate_series_key(key)
    } else {
        tag::validate_normalized(key)
    }
}

/// A filter on labels: `key = value` pairs, all of which must hold (AND).
/// The empty filter matches every series.
///
/// ```
/// use trendlog::labels::Filter;
/// let f = Filter::parse(&["platform=instagram", "region=chicago"]).unwrap();
/// assert_eq!(f.pairs().len(), 2);
/// assert!(Filter::parse(&["platform"]).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter(Vec<(String, String)>);

impl Filter {
    /// The filter matching everything.
    pub fn all() -> Filter {
        Filter::default()
    }

    /// Adds the condition `key = value` (the value is normalised; an empty
    /// value selects the series whose value is unknown).
    pub fn and(mut self, key: &str, value: &str) -> Result<Filter> {
        let v = normalize_value(key, value)?;
        self.0.push((key.to_string(), v));
        Ok(self)
    }

    /// Adds the condition `key = value` for a value exactly as the store
    /// holds it (as [`crate::Snapshot::label_values`] lists them), with no
    /// normalisation: [`Filter::and`] would read a held value `#tw` (typed
    /// `##tw`) as the text `#tw`, which is the value `tw`.
    ///
    /// ```
    /// use trendlog::labels::Filter;
    /// let typed = Filter::all().and("platform", "#tw").unwrap();
    /// let held = Filter::all().and_held("platform", "#tw");
    /// assert_eq!(typed.pairs()[0].1, "tw");
    /// assert_eq!(held.pairs()[0].1, "#tw");
    /// ```
    pub fn and_held(mut self, key: &str, value: &str) -> Filter {
        self.0.push((key.to_string(), value.to_string()));
        self
    }

    /// Parses `KEY=VALUE` conditions.
    pub fn parse<S: AsRef<str>>(conds: &[S]) -> Result<Filter> {
        let mut f = Filter::default();
        for c in conds {
            let c = c.as_ref();
            let Some((k, v)) = c.split_once('=') else {
                return Err(InvalidInput::Parse(format!(
                    "the filter {c:?} is not of the form KEY=VALUE"
                ))
                .into());
            };
            f = f.and(k.trim(), v.trim())?;
        }
        Ok(f)
    }

    /// The conditions, in the order given.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// True for the filter matching everything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Resolves the keys against a store's keys: `(key position, value)`.
    pub fn resolve<'a>(&'a self, keys: &LabelKeys) -> Result<Vec<(usize, &'a str)>> {
        self.0
            .iter()
            .map(|(k, v)| Ok((keys.position(k)?, v.as_str())))
            .collect()
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_reject() {
        let k = LabelKeys::parse("platform,region").unwrap();
        assert_eq!(k.to_string(), "platform,region");
        assert_eq!(k.position("region").unwrap(), 1);
        let e = k.position("regoin").unwrap_err().to_string();
        assert!(
            e.contains("regoin") && e.contains("platform, region"),
            "{e}"
        );
        assert!(LabelKeys::new(["a"; 9].iter().enumerate().map(|(i, _)| format!("k{i}"))).is_err());
        assert!(LabelKeys::new(["1a"]).is_err());
        assert!(LabelKeys::new([""]).is_err());
        assert!(LabelKeys::new(["a".repeat(33)]).is_err());
    }

    #[test]
    fn a_long_value_is_refused_with_the_value_limit() {
        assert!(normalize_value("platform", &"p".repeat(64)).is_ok());
        for n in [65, 255, 256, 1000] {
            let e = normalize_value("platform", &"p".repeat(n))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("it is {n} bytes long; at most 64 are allowed")),
                "{n}: {e}"
            );
        }
    }

    #[test]
    fn series_keys_split_and_validate() {
        let keys = LabelKeys::parse("platform,region").unwrap();
        let k = series_key("metoo", &keys, &[("platform", "#Twitter")]).unwrap();
        assert_eq!(k, "metoo\u{1f}twitter\u{1f}");
        assert!(validate_key(&k).is_ok());
        assert!(validate_key("metoo\u{1f}Twitter").is_err());
        assert!(validate_key("metoo").is_ok());
        let (t, v) = split_series_key(&k);
        assert_eq!((t, v.collect::<Vec<_>>()), ("metoo", vec!["twitter", ""]));
        let e = series_key("metoo", &keys, &[("platform", "a"), ("platform", "b")]);
        assert!(e.is_err());
        let e = series_key("metoo", &keys, &[("region", "new york")]).unwrap_err();
        assert!(e.to_string().contains("region"), "{e}");
        assert!(series_key("metoo", &LabelKeys::default(), &[]).is_err());
        let long = "x".repeat(65);
        assert!(series_key("metoo", &keys, &[("region", &long)]).is_err());
    }
}
