//! Phone numbers as Twilio needs them: E.164 ("+447700900123"), read with the clinic's default
//! country when typed without one. Parsing and validity come from libphonenumber's metadata (the
//! `phonenumber` crate) rather than hand-written rules, which could never keep up with numbering plans.

use crate::error::{CoreError, Result};
use phonenumber::{country, metadata::DATABASE, Mode};

const MAX_INPUT: usize = 40;

/// Normalises `input` to E.164, or explains in plain words why it cannot be a patient's number.
pub fn normalise(input: &str, default_country: &str) -> Result<String> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(CoreError::invalid("phone", "Enter the patient's mobile number."));
    }
    if trimmed.chars().count() > MAX_INPUT || trimmed.chars().any(|c| !(c.is_ascii_digit() || " +-().".contains(c))) {
        return Err(CoreError::invalid(
            "phone",
            "A phone number may only contain digits, spaces, brackets, dashes and a leading +.",
        ));
    }
    let number = read(trimmed, default_country).ok_or_else(|| not_valid(trimmed, default_country))?;
    if !number.is_valid() {
        return Err(not_valid(trimmed, default_country));
    }
    let e164 = number.format().mode(Mode::E164).to_string();
    // Invariant: a stored number reads back to itself under any clinic country, so editing a
    // patient never turns a number that was accepted into one that is refused.
    match phonenumber::parse(None, &e164) {
        Ok(back) if back.is_valid() && back.format().mode(Mode::E164).to_string() == e164 => Ok(e164),
        _ => Err(not_valid(trimmed, default_country)),
    }
}

/// Reads a number typed at a desk in `default_country`.
///
/// A number that carries its own country code ("+44 …", or the clinic's international prefix such
/// as "00 44 …" / "011 44 …") is read without the default country: the `phonenumber` crate would
/// otherwise strip the default country's national prefix from it ("+44 1375 …" read in the US
/// loses its "1", "+39 06 …" read in the UK loses its "0") and refuse a real number.
fn read(trimmed: &str, default_country: &str) -> Option<phonenumber::PhoneNumber> {
    if trimmed.chars().find(|c| c.is_ascii_digit() || *c == '+') == Some('+') {
        return phonenumber::parse(None, trimmed).ok();
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let idd = DATABASE.by_id(default_country).and_then(|meta| meta.international_prefix());
    if let Some(found) = idd.and_then(|idd| idd.find(&digits)) {
        if found.start() == 0 && found.end() < digits.len() {
            return phonenumber::parse(None, format!("+{}", &digits[found.end()..])).ok();
        }
    }
    phonenumber::parse(default_country.parse::<country::Id>().ok(), trimmed).ok()
}

/// A warning for a number that is certainly not a mobile (a landline): texts cannot reach it.
/// Numbers that may be either (the US and Canada) get none.
pub fn landline_warning(e164: &str) -> Option<String> {
    let number = phonenumber::parse(None, e164).ok()?;
    matches!(number.number_type(&phonenumber::metadata::DATABASE), phonenumber::Type::FixedLine)
        .then(|| format!("{e164} looks like a landline: texts cannot reach it. Ask the patient for a mobile number."))
}

fn not_valid(input: &str, default_country: &str) -> CoreError {
    CoreError::invalid(
        "phone",
        format!("\"{input}\" is not a valid phone number. Check the digits, or start with + and the country code if it is not a {default_country} number."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn landlines_are_warned_about_and_mobiles_are_not() {
        assert!(landline_warning("+442079460000").unwrap().contains("landline"));
        assert_eq!(landline_warning("+447400123456"), None);
        // North American numbers may be either: no warning.
        assert_eq!(landline_warning("+12015550123"), None);
    }

    #[test]
    fn national_numbers_take_the_default_country() {
        assert_eq!(normalise("07400 123456", "GB").unwrap(), "+447400123456");
        assert_eq!(normalise("(201) 555-0123", "US").unwrap(), "+12015550123");
    }

    #[test]
    fn international_numbers_keep_their_own_country() {
        assert_eq!(normalise("+44 7400 123456", "US").unwrap(), "+447400123456");
        assert_eq!(normalise("+353 85 123 4567", "GB").unwrap(), "+353851234567");
    }

    #[test]
    fn a_foreign_number_keeps_its_digits_whatever_the_clinic_country() {
        // Found by the property below in CI: read in the US, "+44 1375 …" lost its leading 1
        // (the US national prefix) and a UK landline was refused.
        assert_eq!(normalise("+44 1375 916993", "US").unwrap(), "+441375916993");
        assert_eq!(normalise("011 44 1375 916993", "US").unwrap(), "+441375916993");
        // And a Rome number read in the UK lost its leading 0 (the UK national prefix).
        assert_eq!(normalise("+39 06 6988 1234", "GB").unwrap(), "+390669881234");
        assert_eq!(normalise("0039 06 6988 1234", "GB").unwrap(), "+390669881234");
    }

    #[test]
    fn invalid_numbers_are_refused_with_the_field_named() {
        // 07700 900xxx is Ofcom's drama range: well-formed but never assigned, so not valid.
        for bad in
            ["", "12", "07700", "+44 1", "not a number", "0740012345<script>", "+999 123 456 789", "07700 900123"]
        {
            let err = normalise(bad, "GB").unwrap_err();
            assert_eq!(err.field(), Some("phone"), "{bad:?} gave {err}");
        }
    }

    proptest! {
        // Whatever a person types, normalising never panics, and anything accepted is E.164 that
        // normalises to itself (idempotent), so stored numbers are stable.
        #[test]
        fn accepted_numbers_are_stable_e164(input in "[0-9 +()\\-]{0,24}", typed_in in prop::sample::select(vec!["GB", "US"])) {
            if let Ok(e164) = normalise(&input, typed_in) {
                prop_assert!(e164.starts_with('+'));
                prop_assert!(e164[1..].chars().all(|c| c.is_ascii_digit()));
                prop_assert!(e164.len() <= 16);
                for clinic_country in ["US", "GB", "DE", "IT"] {
                    prop_assert_eq!(normalise(&e164, clinic_country).unwrap(), e164.clone());
                }
            }
        }

        #[test]
        fn uk_mobiles_in_any_spacing_normalise_to_the_same_number(n in 0u32..1000, spaces in proptest::collection::vec(0usize..11, 0..4)) {
            let digits = format!("07400123{n:03}");
            let mut typed = digits.clone();
            for s in spaces { if s < typed.len() { typed.insert(s, ' '); } }
            prop_assert_eq!(normalise(&typed, "GB").unwrap(), format!("+447400123{n:03}"));
        }
    }
}
