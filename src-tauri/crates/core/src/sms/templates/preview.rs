//! What a template will look like on a patient's phone, and what it will cost: the exact text with
//! sample data, its segments and encoding, the characters that force UCS-2, the look-alikes that
//! could be swapped for GSM-7 ones, and the price at `sms.price_per_segment`.

use super::catalog::TemplateName;
use super::placeholders::{self, Part, Placeholder};
use super::TemplateData;
use crate::sms::segments::{self, Encoding};
use crate::sms::smart_encoding::{self, LookAlike};
use serde::Serialize;
use ts_rs::TS;

/// A character that makes the whole text UCS-2, with its code point (some look like spaces or
/// nothing at all, so the code is what tells them apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Ucs2Character {
    pub character: String,
    /// "U+2019".
    pub code: String,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TemplatePreview {
    pub name: TemplateName,
    /// The template as it would be saved (pasted line ends and odd spaces already normalised).
    pub body: String,
    /// The exact text a patient would get, with the sample data.
    pub text: String,
    pub characters: u32,
    pub segments: u32,
    pub encoding: Encoding,
    /// What forces UCS-2, each once, in order; empty for a GSM-7 text.
    pub ucs2_characters: Vec<Ucs2Character>,
    /// Characters in the template with a GSM-7 look-alike (curly quotes, dashes, the ellipsis).
    pub look_alikes: Vec<LookAlike>,
    /// `body` with those look-alikes replaced, when there are any: what "Replace with GSM-7
    /// characters" puts in the editor.
    pub gsm_body: Option<String>,
    /// The price of this text at `sms.price_per_segment`, in the same currency and precision;
    /// `None` while no price is set.
    pub cost: Option<String>,
    /// Things the admin should know about this preview, in words ("the clinic's phone is not set").
    pub notes: Vec<String>,
}

/// The sample appointment every preview uses; the clinic's own name, phone, date style and time
/// zone come from its settings.
pub(crate) struct Sample {
    pub data: TemplateData,
    pub price_per_segment: String,
}

pub(crate) const SAMPLE_FIRST_NAME: &str = "Alexandra";
pub(crate) const SAMPLE_DOCTOR: &str = "Dr Amara Okafor";
pub(crate) const SAMPLE_BOOKING_REF: &str = "CD-7KQ2MX";
pub(crate) const SAMPLE_VIDEO_LINK: &str = "https://join.example.com/v/7KQ2MX4PLW";

pub(crate) fn build(name: TemplateName, body: String, parts: &[Part<'_>], sample: &Sample) -> TemplatePreview {
    let text = placeholders::fill(parts, &sample.data);
    let count = segments::count(&text);
    let look_alikes = smart_encoding::look_alikes(&body);
    let gsm_body = (!look_alikes.is_empty()).then(|| smart_encoding::replace_look_alikes(&body));
    let uses = |p: Placeholder| parts.contains(&Part::Slot(p));
    let mut notes = Vec::new();
    if uses(Placeholder::ClinicPhone) && sample.data.clinic_phone.trim().is_empty() {
        notes.push("The clinic's phone number is not set yet (texting settings, clinic.phone), so {clinic_phone} is left empty in real texts.".to_owned());
    }
    if uses(Placeholder::VideoLink) {
        notes.push("The video link is an example; each consultation gets its own.".to_owned());
    }
    TemplatePreview {
        name,
        body,
        characters: text.chars().count() as u32,
        segments: count.segments,
        encoding: count.encoding,
        ucs2_characters: segments::non_gsm_characters(&text)
            .into_iter()
            .map(|c| Ucs2Character { character: c.to_string(), code: format!("U+{:04X}", u32::from(c)) })
            .collect(),
        look_alikes,
        gsm_body,
        cost: cost(&sample.price_per_segment, count.segments),
        text,
        notes,
    }
}

/// `segments` times `price` ("0.0079"), exactly, to the price's own number of decimals: money is
/// not a float. `None` for no price or one that is not a plain decimal.
pub(crate) fn cost(price: &str, segments: u32) -> Option<String> {
    let price = price.trim().trim_start_matches('+');
    let (whole, fraction) = price.split_once('.').unwrap_or((price, ""));
    let digits = format!("{whole}{fraction}");
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() > 30 {
        return None;
    }
    let total = digits.parse::<u128>().ok()? * u128::from(segments);
    let places = fraction.len();
    let text = format!("{total:0>width$}", width = places + 1);
    let (int, frac) = text.split_at(text.len() - places);
    Some(if places == 0 { int.to_owned() } else { format!("{int}.{frac}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_exact_decimal_arithmetic() {
        assert_eq!(cost("0.0079", 3).as_deref(), Some("0.0237"));
        assert_eq!(cost("0.04", 1).as_deref(), Some("0.04"));
        assert_eq!(cost("0.1", 3).as_deref(), Some("0.3"), "a float would say 0.30000000000000004");
        assert_eq!(cost("1", 2).as_deref(), Some("2"));
        assert_eq!(cost(".5", 3).as_deref(), Some("1.5"));
        assert_eq!(cost("0.04", 0).as_deref(), Some("0.00"));
        assert_eq!(cost("", 2), None);
        assert_eq!(cost("abc", 2), None);
    }
}
