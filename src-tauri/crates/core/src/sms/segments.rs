//! How many SMS segments a text costs, and in which encoding. Twilio bills per segment, so staff see
//! this before sending and it is stored with every text.
//!
//! GSM-7: 160 septets in one segment, 153 per part of a longer text; the extension characters
//! `^ { } [ ] ~ | \ €` (and form feed) cost two. Any other character turns the whole text into UCS-2:
//! 70 UTF-16 units in one segment, 67 per part. A two-unit character (escape pair, surrogate pair) is
//! never split across parts, as handsets and Twilio do.

use serde::Serialize;
use ts_rs::TS;

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{000C}";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SegmentCount {
    pub encoding: Encoding,
    pub segments: u32,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2) the text needs.
    pub units: u32,
}

fn gsm7_cost(c: char) -> Option<u32> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Packs characters of the given costs into parts of `per_part`, keeping each character whole.
fn parts(costs: impl Iterator<Item = u32>, single: u32, per_part: u32) -> (u32, u32) {
    let costs: Vec<u32> = costs.collect();
    let units: u32 = costs.iter().sum();
    if units == 0 {
        return (0, 0);
    }
    if units <= single {
        return (1, units);
    }
    let (mut segments, mut used) = (1, 0);
    for cost in costs {
        if used + cost > per_part {
            segments += 1;
            used = 0;
        }
        used += cost;
    }
    (segments, units)
}

pub fn count(body: &str) -> SegmentCount {
    let gsm: Option<Vec<u32>> = body.chars().map(gsm7_cost).collect();
    match gsm {
        Some(costs) => {
            let (segments, units) = parts(costs.into_iter(), 160, 153);
            SegmentCount { encoding: Encoding::Gsm7, segments, units }
        }
        None => {
            let (segments, units) = parts(body.chars().map(|c| c.len_utf16() as u32), 70, 67);
            SegmentCount { encoding: Encoding::Ucs2, segments, units }
        }
    }
}

/// The characters that force UCS-2 (to tell staff which one tripled the cost), each once, in the
/// order they first appear.
pub fn non_gsm_characters(body: &str) -> Vec<char> {
    let mut found: Vec<char> = Vec::new();
    for c in body.chars().filter(|c| gsm7_cost(*c).is_none()) {
        if !found.contains(&c) {
            found.push(c);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_text_is_gsm7_with_the_standard_boundaries() {
        assert_eq!(count(""), SegmentCount { encoding: Encoding::Gsm7, segments: 0, units: 0 });
        assert_eq!(count(&"a".repeat(160)).segments, 1);
        assert_eq!(count(&"a".repeat(161)).segments, 2);
        assert_eq!(count(&"a".repeat(306)).segments, 2);
        assert_eq!(count(&"a".repeat(307)).segments, 3);
    }

    #[test]
    fn extension_characters_cost_two_and_are_not_split() {
        assert_eq!(count("€").units, 2);
        assert_eq!(count(&"€".repeat(80)).segments, 1);
        assert_eq!(count(&"€".repeat(81)).segments, 2);
        // 306 septets would fit two 153-septet parts, but the pair at 153-154 moves whole to the
        // second part, pushing the last septet into a third.
        let text = format!("{}{{{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(count(&text).units, 306);
        assert_eq!(count(&text).segments, 3);
    }

    #[test]
    fn one_emoji_or_curly_quote_makes_the_whole_text_ucs2() {
        let reminder = "Reminder: your appointment is tomorrow at 09:30. Reply STOP to opt out.";
        assert_eq!(count(reminder).encoding, Encoding::Gsm7);
        let with_quote = reminder.replace("your", "’your");
        assert_eq!(count(&with_quote).encoding, Encoding::Ucs2);
        assert_eq!(non_gsm_characters(&with_quote), vec!['’']);
        assert_eq!(non_gsm_characters("’a’b“’"), vec!['’', '“'], "each once, even when apart");
        assert_eq!(count(&"ok".repeat(35)).segments, 1);
        assert_eq!(count(&format!("{}🙂", "a".repeat(68))).segments, 1, "70 units exactly");
        assert_eq!(count(&format!("{}🙂", "a".repeat(69))).segments, 2);
        assert_eq!(count(&"é".repeat(160)).encoding, Encoding::Gsm7, "é is in the GSM alphabet");
        assert_eq!(count("Zoë").encoding, Encoding::Ucs2, "ë is not");
    }

    proptest! {
        #[test]
        fn gsm_basic_text_follows_the_formula(n in 0usize..2000) {
            let c = count(&"x".repeat(n));
            let expected = if n == 0 { 0 } else if n <= 160 { 1 } else { n.div_ceil(153) as u32 };
            prop_assert_eq!(c.segments, expected);
            prop_assert_eq!(c.encoding, Encoding::Gsm7);
        }

        #[test]
        fn adding_text_never_lowers_the_count(a in ".{0,400}", b in ".{0,400}") {
            let joined = format!("{a}{b}");
            prop_assert!(count(&joined).segments >= count(&a).segments);
            prop_assert!(count(&joined).units >= count(&a).units);
        }

        #[test]
        fn ucs2_parts_hold_at_most_67_units(s in "\\PC{71,600}") {
            let c = count(&s);
            if c.encoding == Encoding::Ucs2 && c.units > 70 {
                prop_assert!(c.segments >= c.units.div_ceil(67));
                prop_assert!(c.segments <= c.units.div_ceil(66));
            }
        }
    }
}
