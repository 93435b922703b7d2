//! Turning what reception typed (date, time, length) into the UTC slot an appointment occupies.
//! Every bound is checked before any arithmetic, so no input can overflow chrono or panic.

use super::{local_time, MAX_MINUTES, MIN_MINUTES};
use crate::error::{CoreError, Result};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

pub(crate) fn check_minutes(minutes: u32) -> Result<Duration> {
    if (MIN_MINUTES..=MAX_MINUTES).contains(&minutes) {
        Ok(Duration::minutes(minutes as i64))
    } else {
        Err(CoreError::invalid(
            "minutes",
            format!("An appointment lasts between {MIN_MINUTES} and {MAX_MINUTES} minutes."),
        ))
    }
}

/// A length typed as text (the CLI's `--minutes`): whole minutes within the allowed range. Any
/// string of digits, however long, gets the range sentence rather than an integer overflow.
pub fn parse_minutes(text: &str) -> Result<u32> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CoreError::invalid("minutes", "Enter the length in whole minutes, for example 30."));
    }
    let minutes = text.parse::<u32>().unwrap_or(u32::MAX);
    check_minutes(minutes)?;
    Ok(minutes)
}

/// The slot [start, end) for a booking or a move: a real clinic time, not in the past, within the
/// booking horizon, lasting an allowed number of minutes.
pub fn booking_slot(
    date: &str,
    time: &str,
    minutes: u32,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let length = check_minutes(minutes)?;
    let today = now.with_timezone(&tz).date_naive();
    let date = local_time::parse_booking_date(date, today)?;
    let start = local_time::to_utc(date, local_time::parse_time(time)?, tz)?;
    if start < now {
        return Err(CoreError::invalid("time", "That time has already passed. Choose a time in the future."));
    }
    // Cannot overflow: the date is at most a few years ahead and the length at most a working day.
    Ok((start, start + length))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn london() -> Tz {
        "Europe/London".parse().unwrap()
    }

    fn monday_morning() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap()
    }

    #[test]
    fn far_future_dates_are_refused_with_a_sentence_about_the_date() {
        for date in ["9999-12-31", "2100-01-01", "275760-09-13", "+262143-12-31", "99999999999999999999-01-01"] {
            let err = booking_slot(date, "09:00", 30, london(), monday_morning()).unwrap_err();
            assert_eq!(err.field(), Some("date"), "{date}");
            assert_eq!(err.to_string(), "Choose a date within the next 5 years (up to 2 Mar 2031).", "{date}");
        }
        // The last day of the horizon is still bookable, even late in the evening.
        let (start, end) = booking_slot("2031-03-02", "23:30", 480, london(), monday_morning()).unwrap();
        assert_eq!(
            (start.to_rfc3339(), end.to_rfc3339()),
            ("2031-03-02T23:30:00+00:00".into(), "2031-03-03T07:30:00+00:00".into())
        );
    }

    #[test]
    fn past_dates_and_times_say_they_have_passed() {
        let err = booking_slot("2020-01-06", "09:30", 30, london(), monday_morning()).unwrap_err();
        assert_eq!((err.field(), err.to_string().contains("already passed")), (Some("date"), true));
        let err = booking_slot("-200000-01-06", "09:30", 30, london(), monday_morning()).unwrap_err();
        assert_eq!(err.field(), Some("date"));
        let err = booking_slot("2026-03-02", "07:30", 30, london(), monday_morning()).unwrap_err();
        assert_eq!(err.field(), Some("time"));
    }

    #[test]
    fn typed_lengths_never_overflow() {
        assert_eq!(parse_minutes(" 45 ").unwrap(), 45);
        for text in ["0", "481", "4294967296", "99999999999999999999999999", "-5", "1e3", "", "thirty"] {
            assert_eq!(parse_minutes(text).unwrap_err().field(), Some("minutes"), "{text}");
        }
    }

    fn any_date() -> impl Strategy<Value = String> {
        prop_oneof![
            (-300_000i64..300_000, 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
            // The edge of what chrono represents, where adding a length used to overflow.
            (prop::sample::select(vec!["", "+"]), 262_140i64..262_145, 12u32..13, 28u32..32)
                .prop_map(|(sign, y, m, d)| format!("{sign}{y}-{m:02}-{d:02}")),
            (0u64..u64::MAX, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
            (1900i32..2200, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
            "\\PC{0,24}",
        ]
    }

    fn any_time() -> impl Strategy<Value = String> {
        prop_oneof![(0u32..30, 0u32..70).prop_map(|(h, m)| format!("{h:02}:{m:02}")), "\\PC{0,8}"]
    }

    fn any_now() -> impl Strategy<Value = DateTime<Utc>> {
        // From 1970 to 2200: the clock is the computer's, not typed, but may be far off.
        (0i64..7_258_118_400).prop_map(|secs| DateTime::from_timestamp(secs, 0).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn no_typed_slot_panics_and_every_accepted_one_is_sane(
            date in any_date(),
            time in any_time(),
            minutes in prop_oneof![any::<u32>(), 0u32..600],
            zone in prop::sample::select(vec!["Europe/London", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/St_Johns", "UTC"]),
            now in any_now(),
        ) {
            let tz: Tz = zone.parse().unwrap();
            match booking_slot(&date, &time, minutes, tz, now) {
                Ok((start, end)) => {
                    prop_assert!(start >= now && end > start);
                    prop_assert!(start - now <= Duration::days(366 * 5 + 2));
                    // Stored text stays fixed-width, so string order remains time order.
                    prop_assert_eq!(crate::db::ts(start).len(), 24);
                    prop_assert_eq!(crate::db::ts(end).len(), 24);
                }
                Err(err) => prop_assert!(err.field().is_some(), "{err}"),
            }
        }

        #[test]
        fn no_typed_day_view_date_panics(date in any_date(), now in any_now()) {
            let today = now.date_naive();
            if let Ok(day) = local_time::parse_view_date(&date, today) {
                let (from, to) = local_time::day_range(day, london());
                prop_assert!(from < to);
                prop_assert_eq!(crate::db::ts(from).len(), 24);
            }
        }

        #[test]
        fn no_typed_length_panics(text in "\\PC{0,30}") {
            let _ = parse_minutes(&text);
        }
    }
}
