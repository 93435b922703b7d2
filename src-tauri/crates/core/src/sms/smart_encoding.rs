//! Text pasted from other programs, made fit for SMS. Word processors and e-mail clients write
//! CR-LF line ends, tabs, non-breaking and other Unicode spaces, soft hyphens and zero-width
//! characters; none of these means anything on a phone, and each one either is refused as a control
//! character or forces the whole text into UCS-2 (70 characters a segment instead of 160).
//!
//! Two steps, as Twilio's Smart Encoding does, with one difference: we show the second one first.
//! - [`normalise`] is always applied (to a text being sent, a template being saved): it only changes
//!   characters nobody can see, so the reader sees the same text.
//! - [`look_alikes`] lists visible characters with a GSM-7 twin (curly quotes, dashes, the ellipsis)
//!   and [`replace_look_alikes`] swaps them when the person asks: the text then looks slightly
//!   different, so it is their choice, made in the editor, not a silent rewrite.

use serde::Serialize;
use ts_rs::TS;

/// Characters that are invisible and meaningless in a text message: removed. (The zero-width
/// joiner and non-joiner are kept: emoji sequences and some scripts need them.)
const INVISIBLE: [char; 4] = [
    '\u{00AD}', // soft hyphen
    '\u{200B}', // zero-width space
    '\u{2060}', // word joiner
    '\u{FEFF}', // byte-order mark / zero-width no-break space
];

/// Visible characters with a GSM-7 look-alike, and what they become. The quotes, apostrophes and
/// dashes are those word processors substitute as you type (Twilio's Smart Encoding list covers
/// the same families); the bullet is what a pasted list brings along.
const LOOK_ALIKES: &[(char, &str)] = &[
    ('\u{2018}', "'"),   // ‘ left single quotation mark
    ('\u{2019}', "'"),   // ’ right single quotation mark, the curly apostrophe
    ('\u{201A}', ","),   // ‚ single low-9 quotation mark
    ('\u{201B}', "'"),   // ‛ single high-reversed-9 quotation mark
    ('\u{2032}', "'"),   // ′ prime
    ('\u{00B4}', "'"),   // ´ acute accent
    ('\u{0060}', "'"),   // ` grave accent (not in the GSM alphabet)
    ('\u{02BC}', "'"),   // ʼ modifier letter apostrophe
    ('\u{FF07}', "'"),   // ＇ fullwidth apostrophe
    ('\u{201C}', "\""),  // “ left double quotation mark
    ('\u{201D}', "\""),  // ” right double quotation mark
    ('\u{201E}', "\""),  // „ double low-9 quotation mark
    ('\u{201F}', "\""),  // ‟ double high-reversed-9 quotation mark
    ('\u{2033}', "\""),  // ″ double prime
    ('\u{00AB}', "\""),  // « left-pointing double angle quotation mark
    ('\u{00BB}', "\""),  // » right-pointing double angle quotation mark
    ('\u{FF02}', "\""),  // ＂ fullwidth quotation mark
    ('\u{2039}', "<"),   // ‹ single left-pointing angle quotation mark
    ('\u{203A}', ">"),   // › single right-pointing angle quotation mark
    ('\u{2010}', "-"),   // ‐ hyphen
    ('\u{2011}', "-"),   // ‑ non-breaking hyphen
    ('\u{2012}', "-"),   // ‒ figure dash
    ('\u{2013}', "-"),   // – en dash
    ('\u{2014}', "-"),   // — em dash
    ('\u{2015}', "-"),   // ― horizontal bar
    ('\u{2212}', "-"),   // − minus sign
    ('\u{2022}', "-"),   // • bullet
    ('\u{2026}', "..."), // … horizontal ellipsis
    ('\u{2044}', "/"),   // ⁄ fraction slash
];

/// A visible character that forces UCS-2 and the GSM-7 characters that look like it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct LookAlike {
    pub found: String,
    pub replacement: String,
    /// How many times it occurs in the text.
    pub count: u32,
}

/// The text with its invisible differences removed: CR-LF and lone CR become LF (as do the Unicode
/// line and paragraph separators), tabs and every other kind of space become one plain space,
/// invisible formatting characters go, spaces at the ends of lines and blank space around the whole
/// text are trimmed. Everything a reader can see is left exactly as it was.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            // Vertical tab, form feed, next line, line and paragraph separators: all line breaks.
            '\n' | '\u{000B}' | '\u{000C}' | '\u{0085}' | '\u{2028}' | '\u{2029}' => out.push('\n'),
            c if INVISIBLE.contains(&c) => {}
            c if c.is_whitespace() => out.push(' '),
            c => out.push(c),
        }
    }
    let lines: Vec<&str> = out.split('\n').map(str::trim_end).collect();
    lines.join("\n").trim().to_owned()
}

fn look_alike(c: char) -> Option<&'static str> {
    LOOK_ALIKES.iter().find(|(from, _)| *from == c).map(|(_, to)| *to)
}

/// The look-alikes in `text`, in the order they first appear.
pub fn look_alikes(text: &str) -> Vec<LookAlike> {
    let mut found: Vec<LookAlike> = Vec::new();
    for c in text.chars() {
        let Some(replacement) = look_alike(c) else { continue };
        match found.iter_mut().find(|l| l.found.starts_with(c)) {
            Some(seen) => seen.count += 1,
            None => found.push(LookAlike { found: c.to_string(), replacement: replacement.to_owned(), count: 1 }),
        }
    }
    found
}

/// `text` with every look-alike replaced by its GSM-7 twin (other characters untouched).
pub fn replace_look_alikes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match look_alike(c) {
            Some(replacement) => out.push_str(replacement),
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::segments::{count, Encoding};
    use proptest::prelude::*;

    #[test]
    fn pasted_line_ends_tabs_and_odd_spaces_become_plain() {
        assert_eq!(normalise("Hello\r\nworld\rbye\n"), "Hello\nworld\nbye");
        assert_eq!(normalise("a\tb\u{00A0}c\u{202F}d\u{2009}e"), "a b c d e");
        assert_eq!(normalise("line one   \r\n\r\nline two\t"), "line one\n\nline two");
        assert_eq!(normalise("soft\u{00AD}hyphen\u{200B}\u{FEFF}"), "softhyphen");
        assert_eq!(normalise("one\u{2028}two"), "one\ntwo");
        assert_eq!(normalise("👩\u{200D}⚕️"), "👩\u{200D}⚕️", "the emoji joiner is kept");
    }

    #[test]
    fn look_alikes_are_listed_once_each_and_replaced_only_on_request() {
        let pasted = "We’re open 9–5 … don’t be late — “thanks”";
        let found = look_alikes(pasted);
        let pairs: Vec<(&str, &str, u32)> =
            found.iter().map(|l| (l.found.as_str(), l.replacement.as_str(), l.count)).collect();
        assert_eq!(
            pairs,
            vec![("’", "'", 2), ("–", "-", 1), ("…", "...", 1), ("—", "-", 1), ("“", "\"", 1), ("”", "\"", 1)]
        );
        assert_eq!(normalise(pasted), pasted, "normalising never changes what a reader sees");
        assert_eq!(count(pasted).encoding, Encoding::Ucs2);
        let replaced = replace_look_alikes(pasted);
        assert_eq!(replaced, "We're open 9-5 ... don't be late - \"thanks\"");
        assert_eq!(count(&replaced).encoding, Encoding::Gsm7);
        assert!(look_alikes(&replaced).is_empty());
    }

    #[test]
    fn every_replacement_is_gsm7() {
        for (from, to) in LOOK_ALIKES {
            assert_eq!(count(to).encoding, Encoding::Gsm7, "{from}");
            assert_eq!(count(&from.to_string()).encoding, Encoding::Ucs2, "{from} should need UCS-2");
        }
    }

    proptest! {
        #[test]
        fn normalised_text_has_no_control_characters_but_line_feeds(s in "\\PC*[\r\t\u{00A0}\u{2028}]\\PC*") {
            let n = normalise(&s);
            prop_assert!(!n.chars().any(|c| c.is_control() && c != '\n'));
            prop_assert_eq!(normalise(&n), n.clone(), "normalising twice changes nothing");
        }
    }
}
