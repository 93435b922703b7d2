//! The placeholder syntax: a name in braces, `{first_name}`. Braces mean nothing else in a
//! template, so a stray one is a mistake to point out, not text to send (they also cost two GSM-7
//! characters each). A template is checked when it is saved or previewed, so a text that is due
//! never fails on its wording.

use super::catalog::TemplateName;
use super::TemplateData;
use crate::error::{CoreError, Result};
use crate::sms::outbox::MAX_BODY_CHARS;
use crate::sms::smart_encoding;
use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Placeholder {
    FirstName,
    ClinicName,
    ClinicPhone,
    Doctor,
    Date,
    Time,
    BookingRef,
    VideoLink,
}

/// Names people reach for, and the placeholder they mean (offered as "Did you mean …?").
const ALIASES: &[(&str, Placeholder)] = &[
    ("name", Placeholder::FirstName),
    ("patient", Placeholder::FirstName),
    ("patient_name", Placeholder::FirstName),
    ("firstname", Placeholder::FirstName),
    ("clinic", Placeholder::ClinicName),
    ("phone", Placeholder::ClinicPhone),
    ("doctor_name", Placeholder::Doctor),
    ("dr", Placeholder::Doctor),
    ("day", Placeholder::Date),
    ("ref", Placeholder::BookingRef),
    ("reference", Placeholder::BookingRef),
    ("link", Placeholder::VideoLink),
    ("url", Placeholder::VideoLink),
];

impl Placeholder {
    pub const ALL: [Placeholder; 8] = [
        Placeholder::FirstName,
        Placeholder::ClinicName,
        Placeholder::ClinicPhone,
        Placeholder::Doctor,
        Placeholder::Date,
        Placeholder::Time,
        Placeholder::BookingRef,
        Placeholder::VideoLink,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Placeholder::FirstName => "first_name",
            Placeholder::ClinicName => "clinic_name",
            Placeholder::ClinicPhone => "clinic_phone",
            Placeholder::Doctor => "doctor",
            Placeholder::Date => "date",
            Placeholder::Time => "time",
            Placeholder::BookingRef => "booking_ref",
            Placeholder::VideoLink => "video_link",
        }
    }

    /// As written in a template: `{first_name}`.
    pub fn token(self) -> String {
        format!("{{{}}}", self.name())
    }

    pub fn describe(self) -> &'static str {
        match self {
            Placeholder::FirstName => "The patient's first name.",
            Placeholder::ClinicName => "The clinic's name, from Settings.",
            Placeholder::ClinicPhone => "The clinic's phone number, from the texting settings (clinic.phone).",
            Placeholder::Doctor => "The doctor's name.",
            Placeholder::Date => "The appointment's day, written the clinic's way (Tue 3 Mar).",
            Placeholder::Time => "The appointment's time in the clinic's time zone (14:05).",
            Placeholder::BookingRef => "The booking reference patients quote on the phone.",
            Placeholder::VideoLink => "The patient's link into the video consultation.",
        }
    }

    /// The longest value ClinicDesk lets this placeholder have (names: 120 characters, the
    /// clinic's phone: 30; a date like "Wed, Sep 30" or time "12:05 PM" are far shorter). A
    /// template is refused if these could take it over the 1600 characters Twilio accepts.
    fn max_chars(self) -> usize {
        match self {
            Placeholder::FirstName | Placeholder::ClinicName => 120,
            Placeholder::Doctor => 130,
            Placeholder::ClinicPhone | Placeholder::BookingRef => 32,
            Placeholder::Date => 16,
            Placeholder::Time => 8,
            // A link with a token in it; the consultation work keeps it well under this.
            Placeholder::VideoLink => 500,
        }
    }

    fn value(self, d: &TemplateData) -> &str {
        match self {
            Placeholder::FirstName => &d.patient_first_name,
            Placeholder::ClinicName => &d.clinic_name,
            Placeholder::ClinicPhone => &d.clinic_phone,
            Placeholder::Doctor => &d.doctor_name,
            Placeholder::Date => &d.date,
            Placeholder::Time => &d.time,
            Placeholder::BookingRef => &d.booking_ref,
            Placeholder::VideoLink => d.video_link.as_deref().unwrap_or(""),
        }
    }
}

/// A checked template: its words, and the placeholders between them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part<'a> {
    Words(&'a str),
    Slot(Placeholder),
}

fn invalid(message: String) -> CoreError {
    CoreError::invalid("body", message)
}

fn tokens(list: &[Placeholder]) -> String {
    list.iter().map(|p| p.token()).collect::<Vec<_>>().join(", ")
}

/// Splits `body` into words and placeholders, refusing anything `template` cannot send: a stray
/// brace, a placeholder that does not exist or does not belong in this template, a missing
/// required one, no words at all, or a text that could grow past 1600 characters.
pub(crate) fn parse(body: &str, template: TemplateName) -> Result<Vec<Part<'_>>> {
    let allowed = template.placeholders();
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(invalid(
                "There is a \"}\" with no \"{\" before it. Braces only mark placeholders such as {first_name}: remove it."
                    .into(),
            ));
        }
        let after = &rest[open + 1..];
        let close = after.find(['{', '}']).filter(|&i| after[i..].starts_with('}')).ok_or_else(|| {
            invalid(format!(
                "There is a \"{{\" that is not closed with \"}}\". Placeholders are written like {{first_name}}; braces cannot be used on their own. Use one of: {}.",
                tokens(allowed)
            ))
        })?;
        parts.push(Part::Words(&rest[..open]));
        parts.push(Part::Slot(resolve(&after[..close], template)?));
        rest = &after[close + 1..];
    }
    parts.push(Part::Words(rest));
    parts.retain(|p| p != &Part::Words(""));

    for required in template.required() {
        if !parts.contains(&Part::Slot(*required)) {
            return Err(invalid(format!(
                "The {} must contain {}: without it the patient cannot join.",
                template.label().to_lowercase(),
                required.token()
            )));
        }
    }
    if !parts.iter().any(|p| matches!(p, Part::Words(w) if !w.trim().is_empty())) {
        return Err(invalid("Write the text of the message; placeholders alone could leave it empty.".into()));
    }
    let longest = longest(&parts);
    if longest > MAX_BODY_CHARS {
        return Err(invalid(format!(
            "With the longest names ClinicDesk allows, this text could reach {longest} characters, and a text can have at most {MAX_BODY_CHARS}. Shorten it or use fewer placeholders."
        )));
    }
    Ok(parts)
}

fn resolve(inner: &str, template: TemplateName) -> Result<Placeholder> {
    let allowed = template.placeholders();
    if let Some(p) = allowed.iter().find(|p| p.name() == inner) {
        return Ok(*p);
    }
    if let Some(p) = Placeholder::ALL.iter().find(|p| p.name() == inner) {
        let why = if *p == Placeholder::VideoLink {
            "can only be used in the video invite: the other texts also go to patients who come in person, who have no link"
        } else {
            "cannot be used in a quick text: a quick text is not about one appointment"
        };
        return Err(invalid(format!("{} {why}. Use one of: {}.", p.token(), tokens(allowed))));
    }
    let hint = suggestion(inner, allowed).map(|p| format!(" Did you mean {}?", p.token())).unwrap_or_default();
    Err(invalid(format!("{{{inner}}} is not a placeholder ClinicDesk knows.{hint} Use one of: {}.", tokens(allowed))))
}

/// The placeholder a mistyped name most likely meant: the same name spelt differently
/// ("{First Name}"), a common alias ("{ref}"), or a typo of up to two letters ("{frist_name}").
fn suggestion(inner: &str, allowed: &[Placeholder]) -> Option<Placeholder> {
    let typed: String =
        inner.trim().to_lowercase().chars().map(|c| if c == ' ' || c == '-' { '_' } else { c }).collect();
    let alias = ALIASES.iter().find(|(a, _)| *a == typed).map(|(_, p)| *p);
    let candidate = alias.or_else(|| {
        allowed
            .iter()
            .map(|p| (edit_distance(&typed, p.name()), *p))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d)
            .map(|(_, p)| p)
    })?;
    allowed.contains(&candidate).then_some(candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// The most characters `parts` can render to.
fn longest(parts: &[Part<'_>]) -> usize {
    parts
        .iter()
        .map(|p| match p {
            Part::Words(w) => w.chars().count(),
            Part::Slot(s) => s.max_chars(),
        })
        .sum()
}

/// A value as it goes into a text: one line, no invisible characters, and look-alike punctuation
/// in GSM-7 form. A patient named O’Brien (curly apostrophe, as word processors and some imports
/// write it) must not turn the clinic's text into UCS-2 and double its cost; the straight
/// apostrophe reads the same.
fn clean(value: &str) -> String {
    let one_line = value.split_whitespace().collect::<Vec<_>>().join(" ");
    let visible: String = smart_encoding::normalise(&one_line).chars().filter(|c| !c.is_control()).collect();
    smart_encoding::replace_look_alikes(&visible)
}

/// The text of `parts` with `data` filled in.
pub(crate) fn fill(parts: &[Part<'_>], data: &TemplateData) -> String {
    let mut text = String::new();
    for part in parts {
        match part {
            Part::Words(w) => text.push_str(w),
            Part::Slot(p) => text.push_str(&clean(p.value(data))),
        }
    }
    smart_encoding::normalise(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: &str, template: TemplateName) -> String {
        let err = parse(body, template).unwrap_err();
        assert_eq!(err.field(), Some("body"), "{body}");
        err.to_string()
    }

    #[test]
    fn placeholders_are_found_between_the_words() {
        let parts = parse("Hi {first_name}, see {doctor} at {time}.", TemplateName::Reminder).unwrap();
        assert_eq!(
            parts,
            vec![
                Part::Words("Hi "),
                Part::Slot(Placeholder::FirstName),
                Part::Words(", see "),
                Part::Slot(Placeholder::Doctor),
                Part::Words(" at "),
                Part::Slot(Placeholder::Time),
                Part::Words("."),
            ]
        );
    }

    #[test]
    fn a_mistyped_placeholder_is_refused_with_the_likely_one() {
        let message = refusal("Hi {frist_name}", TemplateName::Confirmation);
        assert!(
            message.starts_with("{frist_name} is not a placeholder ClinicDesk knows. Did you mean {first_name}?"),
            "{message}"
        );
        assert!(message.contains("Use one of: {first_name}, {clinic_name}"), "{message}");
        assert!(refusal("Ref {ref}", TemplateName::Reminder).contains("Did you mean {booking_ref}?"));
        assert!(refusal("Hi {First Name}", TemplateName::Reminder).contains("Did you mean {first_name}?"));
        assert!(!refusal("{weather}", TemplateName::Reminder).contains("Did you mean"));
    }

    #[test]
    fn stray_braces_and_misplaced_placeholders_are_refused() {
        assert!(refusal("Hi {first_name", TemplateName::Reminder).contains("not closed"));
        assert!(refusal("Hi {first_{name}}", TemplateName::Reminder).contains("not closed"));
        assert!(refusal("Hi first_name}", TemplateName::Reminder).contains("no \"{\" before it"));
        assert!(refusal("Hi {} there", TemplateName::Reminder).contains("{} is not a placeholder"));
        assert!(refusal("Join {video_link}", TemplateName::Reminder).contains("only be used in the video invite"));
        assert!(refusal("See you {date}", TemplateName::PleaseCall).contains("cannot be used in a quick text"));
        assert!(refusal("Join now, {first_name}", TemplateName::VideoInvite).contains("must contain {video_link}"));
        assert!(refusal("{first_name} {doctor}", TemplateName::Reminder).contains("Write the text"));
    }

    #[test]
    fn a_template_that_could_pass_1600_characters_is_refused() {
        // A doctor's name may have 130 characters: 13 of them are 1690, 12 leave room for the words.
        let many = format!("Hi {}", "{doctor} ".repeat(13));
        assert!(refusal(&many, TemplateName::Reminder).contains("could reach 1706 characters"));
        let few = format!("Hi {}", "{doctor} ".repeat(12));
        assert!(parse(&few, TemplateName::Reminder).is_ok());
    }

    #[test]
    fn values_are_filled_on_one_line_in_gsm7_form() {
        let parts = parse("Hi {first_name}, from {clinic_name}.", TemplateName::PleaseCall).unwrap();
        let data = TemplateData {
            patient_first_name: "Siobhán O’Brien\n".into(),
            clinic_name: "Riverside\u{00A0}Clinic\u{7}".into(),
            ..Default::default()
        };
        assert_eq!(fill(&parts, &data), "Hi Siobhán O'Brien, from Riverside Clinic.");
        assert_eq!(edit_distance("frist_name", "first_name"), 2);
    }
}
