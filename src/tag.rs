//! Tag normalisation: [`normalize`] turns a hashtag as written (`#MeToo`) into
//! the key of its series (`metoo`), and [`validate_normalized`] checks that a
//! stored tag (read back from a dictionary file) is such a key.
//!
//! The rule, applied in this order:
//! 1. remove one leading `#` (so `##a` becomes `#a`);
//! 2. Unicode NFC;
//! 3. lower-case with [`str::to_lowercase`] (full case mapping, final sigma);
//! 4. NFC again, because lower-casing can leave a string that is not NFC;
//! 5. reject an empty result ([`InvalidInput::EmptyTag`]), more than
//!    [`MAX_TAG_BYTES`] bytes of UTF-8 ([`InvalidInput::TagTooLong`]), and any
//!    character for which [`char::is_whitespace`] or [`char::is_control`] holds
//!    ([`InvalidInput::BadTagChar`]). Zero-width joiners and other format
//!    characters are allowed: emoji sequences need them.
//!
//! Steps 2 to 4 are idempotent, so `normalize(normalize(x)) == normalize(x)`
//! whenever the first result does not itself start with `#`.
//!
//! ```
//! use trendlog::tag::normalize;
//! assert_eq!(normalize("#MeToo").unwrap(), "metoo");
//! assert_eq!(normalize("Straße").unwrap(), "straße");
//! assert!(normalize("me too").is_err());
//! ```
//!
//! # Cost
//! `normalize` runs once per ingested event. ASCII input takes a single pass
//! over its bytes: already lower-case input is returned borrowed without
//! allocating, upper-case ASCII is lowered in one allocation, and only
//! non-ASCII input pays for Unicode tables (with `is_nfc_quick` skipping the
//! NFC passes when the text is already NFC, which is nearly always).

use std::borrow::Cow;

use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use crate::error::{InvalidInput, Result};

/// The longest tag, in bytes of UTF-8 after normalisation.
pub const MAX_TAG_BYTES: usize = 255;

/// Normalises a hashtag as written into the key of its series: one leading `#`
/// removed, Unicode NFC, lower-cased, NFC again (see the [module docs](self)).
///
/// Returns [`Cow::Borrowed`] when nothing changes, which is the common case of
/// a lower-case ASCII tag without `#`.
///
/// # Errors
/// [`InvalidInput::EmptyTag`] when nothing is left, [`InvalidInput::TagTooLong`]
/// over 255 bytes, [`InvalidInput::BadTagChar`] for whitespace or control
/// characters.
///
/// ```
/// use std::borrow::Cow;
/// use trendlog::tag::normalize;
/// assert_eq!(normalize("#METOO").unwrap(), "metoo");
/// assert!(matches!(normalize("metoo").unwrap(), Cow::Borrowed("metoo")));
/// assert_eq!(normalize("Cafe\u{301}").unwrap(), "café"); // composed to U+00E9
/// assert!(normalize("#").is_err());
/// ```
pub fn normalize(raw: &str) -> Result<Cow<'_, str>> {
    let body = raw.strip_prefix('#').unwrap_or(raw);
    normalize_body(body)
}

/// Checks that `tag` is already a normalised tag, that is exactly what
/// [`normalize`] returns for some input. Use it on tags read back from a file
/// that claims to hold normalised tags.
///
/// A normalised tag may start with `#` (`normalize("##a")` is `#a`), so the
/// check is that `normalize("#" + tag) == tag`: every step after the `#`
/// removal leaves `tag` unchanged.
///
/// # Errors
/// The error [`normalize`] would return, or [`InvalidInput::Parse`] naming the
/// normalised form when `tag` is valid but not normalised.
///
/// ```
/// use trendlog::tag::validate_normalized;
/// assert!(validate_normalized("metoo").is_ok());
/// assert!(validate_normalized("#a").is_ok()); // what normalize("##a") gives
/// assert!(validate_normalized("MeToo").is_err());
/// assert!(validate_normalized("").is_err());
/// ```
pub fn validate_normalized(tag: &str) -> Result<()> {
    let normal = normalize_body(tag)?;
    if normal == tag {
        Ok(())
    } else {
        Err(InvalidInput::Parse(format!(
            "the tag {tag:?} is not normalised (its normalised form is {normal:?})"
        ))
        .into())
    }
}

/// Steps 2 to 5 of the rule: everything after the `#` removal.
fn normalize_body(s: &str) -> Result<Cow<'_, str>> {
    if s.is_empty() {
        return Err(InvalidInput::EmptyTag.into());
    }
    let bytes = s.as_bytes();
    // One pass over the bytes: bytes <= 0x20 and 0x7f are exactly the ASCII
    // characters that are whitespace or control characters.
    let mut has_upper = false;
    let mut non_ascii = false;
    for &b in bytes {
        if b >= 0x80 {
            non_ascii = true;
            break;
        }
        if b <= b' ' || b == 0x7f {
            return Err(InvalidInput::BadTagChar { ch: char::from(b) }.into());
        }
        has_upper |= b.is_ascii_uppercase();
    }
    if non_ascii {
        return normalize_unicode(s);
    }
    if bytes.len() > MAX_TAG_BYTES {
        return Err(InvalidInput::TagTooLong { len: bytes.len() }.into());
    }
    if has_upper {
        Ok(Cow::Owned(s.to_ascii_lowercase()))
    } else {
        Ok(Cow::Borrowed(s))
    }
}

/// The general path for text holding non-ASCII characters.
fn normalize_unicode(s: &str) -> Result<Cow<'_, str>> {
    let mut out: Cow<'_, str> = nfc(Cow::Borrowed(s));
    if out.chars().any(changes_when_lowercased) {
        out = Cow::Owned(nfc(Cow::Owned(out.to_lowercase())).into_owned());
    }
    if let Some(ch) = out.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(InvalidInput::BadTagChar { ch }.into());
    }
    if out.is_empty() {
        return Err(InvalidInput::EmptyTag.into());
    }
    if out.len() > MAX_TAG_BYTES {
        return Err(InvalidInput::TagTooLong { len: out.len() }.into());
    }
    Ok(out)
}

/// NFC, allocating only when the quick check cannot prove the text is NFC.
fn nfc(s: Cow<'_, str>) -> Cow<'_, str> {
    if is_nfc_quick(s.chars()) == IsNormalized::Yes {
        s
    } else {
        let composed: String = s.nfc().collect();
        if composed == *s {
            s
        } else {
            Cow::Owned(composed)
        }
    }
}

/// True when `str::to_lowercase` could change this character. The final-sigma
/// rule of `str::to_lowercase` only applies to `Σ`, which this already flags.
fn changes_when_lowercased(c: char) -> bool {
    let mut lower = c.to_lowercase();
    !(lower.len() == 1 && lower.next() == Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use proptest::prelude::*;

    fn norm(s: &str) -> String {
        normalize(s).unwrap().into_owned()
    }

    fn err(s: &str) -> InvalidInput {
        match normalize(s) {
            Err(Error::InvalidInput(e)) => e,
            other => panic!("{s:?} should be rejected, got {other:?}"),
        }
    }

    #[test]
    fn case_variants_are_one_series() {
        for raw in ["#MeToo", "metoo", "#METOO", "MeToo", "#metoo"] {
            assert_eq!(norm(raw), "metoo", "{raw}");
        }
    }

    #[test]
    fn only_one_hash_is_removed() {
        assert_eq!(norm("##a"), "#a");
        assert_eq!(norm("a#b"), "a#b");
        assert_eq!(err("#"), InvalidInput::EmptyTag);
        assert_eq!(err(""), InvalidInput::EmptyTag);
        assert_eq!(norm("##"), "#");
    }

    #[test]
    fn lower_case_ascii_is_borrowed() {
        assert!(matches!(normalize("metoo"), Ok(Cow::Borrowed("metoo"))));
        assert!(matches!(normalize("#metoo"), Ok(Cow::Borrowed("metoo"))));
        assert!(matches!(normalize("elenão"), Ok(Cow::Borrowed("elenão"))));
        assert!(matches!(normalize("MeToo"), Ok(Cow::Owned(_))));
    }

    #[test]
    fn unicode_case_mapping() {
        assert_eq!(norm("Straße"), "straße");
        assert_eq!(norm("STRASSE"), "strasse");
        assert_eq!(norm("\u{1e9e}"), "ß"); // capital sharp s
        assert_eq!(norm("ΣΊΣΥΦΟΣ"), "σίσυφος"); // final sigma
        assert_eq!(norm("#ElNão"), "elnão");
        assert_eq!(norm("Ärger"), "ärger");
        // Turkish dotted capital I lowers to i + combining dot above (no
        // precomposed form exists), and stays that way under NFC.
        assert_eq!(norm("İstanbul"), "i\u{307}stanbul");
        assert_eq!(norm("ıSTANBUL"), "ıstanbul");
        // Kelvin sign: NFC maps it to K, which lowers to k.
        assert_eq!(norm("\u{212a}"), "k");
    }

    #[test]
    fn combining_sequences_are_composed() {
        assert_eq!(norm("e\u{301}"), "\u{e9}");
        assert_eq!(norm("E\u{301}"), "\u{e9}");
        assert_eq!(norm("#Cafe\u{301}"), "caf\u{e9}");
        // Already composed input gives the same key.
        assert_eq!(norm("CAF\u{c9}"), norm("cafe\u{301}"));
        // Hangul jamo compose into a syllable.
        assert_eq!(norm("\u{1100}\u{1161}"), "\u{ac00}");
    }

    #[test]
    fn emoji_and_zwj_are_allowed() {
        assert_eq!(norm("🔥"), "🔥");
        let family = "👨\u{200d}👩\u{200d}👧";
        assert_eq!(norm(family), family);
        assert_eq!(norm("#MeToo🙌"), "metoo🙌");
    }

    #[test]
    fn whitespace_and_controls_are_rejected() {
        for (raw, ch) in [
            ("me too", ' '),
            ("me\ttoo", '\t'),
            ("metoo\n", '\n'),
            ("me\rtoo", '\r'),
            ("me\u{a0}too", '\u{a0}'),     // no-break space
            ("me\u{2003}too", '\u{2003}'), // em space
            ("me\u{3000}too", '\u{3000}'), // ideographic space
            ("me\u{0}too", '\u{0}'),
            ("me\u{7f}too", '\u{7f}'),
            ("me\u{85}too", '\u{85}'), // NEL: whitespace and control
            ("méé\u{1b}x", '\u{1b}'),
            ("#\u{2028}", '\u{2028}'), // line separator
        ] {
            assert_eq!(err(raw), InvalidInput::BadTagChar { ch }, "{raw:?}");
        }
        assert_eq!(err(" metoo"), InvalidInput::BadTagChar { ch: ' ' });
        assert_eq!(err("# metoo"), InvalidInput::BadTagChar { ch: ' ' });
    }

    #[test]
    fn length_limit_is_255_bytes_after_normalisation() {
        let ok = "a".repeat(255);
        assert_eq!(norm(&ok), ok);
        assert_eq!(norm(&format!("#{ok}")), ok);
        assert_eq!(err(&"a".repeat(256)), InvalidInput::TagTooLong { len: 256 });
        assert_eq!(err(&"A".repeat(256)), InvalidInput::TagTooLong { len: 256 });
        // 127 two-byte characters plus one byte: 255 bytes.
        let two = format!("{}x", "é".repeat(127));
        assert_eq!(two.len(), 255);
        assert_eq!(norm(&two), two);
        let over = "é".repeat(128);
        assert_eq!(err(&over), InvalidInput::TagTooLong { len: 256 });
        // Decomposed input is 3 bytes per é but composes to 2 bytes: the limit
        // applies to the normalised form.
        let decomposed = "e\u{301}".repeat(127);
        assert_eq!(decomposed.len(), 381);
        assert_eq!(norm(&decomposed).len(), 254);
        // Lower-casing can grow a tag past the limit: İ (2 bytes) -> i̇ (3 bytes).
        let grows = "İ".repeat(100);
        assert_eq!(grows.len(), 200);
        assert_eq!(err(&grows), InvalidInput::TagTooLong { len: 300 });
    }

    #[test]
    fn validate_normalized_accepts_exactly_the_outputs() {
        for raw in ["#MeToo", "##A", "Straße", "ΣΊΣΥΦΟΣ", "e\u{301}", "🔥", "İ"] {
            let n = norm(raw);
            assert!(validate_normalized(&n).is_ok(), "{raw:?} -> {n:?}");
        }
        for bad in ["MeToo", "e\u{301}", "a b", "", "\u{212a}", "ΣΑΣ"] {
            assert!(validate_normalized(bad).is_err(), "{bad:?}");
        }
        assert!(validate_normalized(&"a".repeat(256)).is_err());
    }

    proptest! {
        #[test]
        fn idempotent_on_its_output(raw in "\\PC{0,40}") {
            if let Ok(once) = normalize(&raw) {
                if !once.starts_with('#') {
                    let twice = normalize(&once).unwrap();
                    prop_assert_eq!(&twice, &once);
                }
                prop_assert!(validate_normalized(&once).is_ok());
                prop_assert!(!once.is_empty() && once.len() <= MAX_TAG_BYTES);
            }
        }

        #[test]
        fn idempotent_on_mixed_scripts(raw in "[#a-zA-Z\u{300}-\u{36f}\u{391}-\u{3c9}\u{130}\u{131}\u{1e9e}\u{212a}\u{1100}-\u{1112}\u{1161}-\u{1175}\u{ac00}-\u{ac20}ßİσςΣ]{1,20}") {
            if let Ok(once) = normalize(&raw) {
                prop_assert!(validate_normalized(&once).is_ok(), "{:?} -> {:?}", raw, once);
            }
        }

        #[test]
        fn never_panics(raw in any::<String>()) {
            let _ = normalize(&raw);
            let _ = validate_normalized(&raw);
        }
    }
}
