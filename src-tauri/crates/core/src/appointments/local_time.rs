//! The clinic thinks in its own wall-clock time; the database stores UTC. These conversions are the
//! only place the two meet, so daylight-saving edge cases are handled once.
//!
//! Dates typed by a person are bounded before they become instants, so that no input can overflow
//! chrono (it panics on arithmetic past its last year, 262142) and every stored instant keeps a four-digit
//! year (stored text must stay fixed-width for string order to be time order):
//! - booking and moving: from today up to [`BOOKING_HORIZON_YEARS`] ahead; later is a typo (long
//!   recalls such as three- or five-year screening are the furthest a clinic books);
//! - the day view: from [`HISTORY_YEARS`] back to the booking horizon (nothing exists beyond).

use crate::error::{CoreError, Result};
use chrono::{DateTime, LocalResult, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// How far ahead an appointment may be booked or moved, in years from the clinic's today.
pub const BOOKING_HORIZON_YEARS: u32 = 5;
/// How far back the day view goes, in years from the clinic's today.
pub const HISTORY_YEARS: u32 = 50;

const DATE_FORMAT_HELP: &str = "Enter the date as YYYY-MM-DD, for example 2026-03-14.";

/// Why typed text is not a usable date.
enum Unreadable {
    /// Not in the YYYY-MM-DD form (or no such day, like 2026-02-30).
    NotADate,
    /// Well formed, but the year is beyond what chrono represents (past 262142); a date picker may
    /// still offer one, so it is answered with the caller's range sentence.
    OutOfReach,
}

fn parse_ymd(text: &str) -> std::result::Result<NaiveDate, Unreadable> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date);
    }
    let digits =
        |s: &str, len: std::ops::RangeInclusive<usize>| len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    match unsigned.split('-').collect::<Vec<_>>().as_slice() {
        [y, m, d] if digits(y, 5..=usize::MAX) && digits(m, 1..=2) && digits(d, 1..=2) => Err(Unreadable::OutOfReach),
        _ => Err(Unreadable::NotADate),
    }
}

pub fn parse_date(text: &str) -> Result<NaiveDate> {
    parse_ymd(text).map_err(|_| CoreError::invalid("date", DATE_FORMAT_HELP))
}

/// Parses a date for `field` and keeps it within [earliest, latest]; outside that (including years
/// too large to represent) the answer is `out_of_range`.
pub fn parse_date_within(
    text: &str,
    field: crate::error::Field,
    earliest: NaiveDate,
    latest: NaiveDate,
    out_of_range: &str,
) -> Result<NaiveDate> {
    match parse_ymd(text) {
        Ok(date) if (earliest..=latest).contains(&date) => Ok(date),
        Ok(_) | Err(Unreadable::OutOfReach) => Err(CoreError::invalid(field, out_of_range)),
        Err(Unreadable::NotADate) => Err(CoreError::invalid(field, DATE_FORMAT_HELP)),
    }
}

/// "23 Nov 2031": how dates appear in sentences for staff.
pub fn words(date: NaiveDate) -> String {
    date.format("%-d %b %Y").to_string()
}

/// The last day a booking may fall on, counted from the clinic's today.
pub fn booking_horizon(today: NaiveDate) -> NaiveDate {
    today.checked_add_months(Months::new(12 * BOOKING_HORIZON_YEARS)).unwrap_or(today)
}

/// A booking's date: not before today, not past the booking horizon.
pub fn parse_booking_date(text: &str, today: NaiveDate) -> Result<NaiveDate> {
    let latest = booking_horizon(today);
    let date = parse_date_within(
        text,
        "date",
        NaiveDate::MIN,
        latest,
        &format!("Choose a date within the next {BOOKING_HORIZON_YEARS} years (up to {}).", words(latest)),
    )?;
    if date < today {
        return Err(CoreError::invalid("date", "That date has already passed. Choose a date in the future."));
    }
    Ok(date)
}

/// A day-view date: within [`HISTORY_YEARS`] back and the booking horizon ahead.
pub fn parse_view_date(text: &str, today: NaiveDate) -> Result<NaiveDate> {
    let earliest = today.checked_sub_months(Months::new(12 * HISTORY_YEARS)).unwrap_or(today);
    let latest = booking_horizon(today);
    parse_date_within(
        text,
        "date",
        earliest,
        latest,
        &format!("Choose a date between {} and {}.", words(earliest), words(latest)),
    )
}

pub fn parse_time(text: &str) -> Result<NaiveTime> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| {
        CoreError::invalid("time", "Enter the time as HH:MM on the 24-hour clock, for example 09:30 or 14:15.")
    })
}

/// The instant a clinic wall-clock time denotes. When clocks go back the earlier of the two
/// instants is meant; when clocks go forward the skipped hour does not exist and is refused.
pub fn to_utc(date: NaiveDate, time: NaiveTime, tz: Tz) -> Result<DateTime<Utc>> {
    match tz.from_local_datetime(&date.and_time(time)) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(earliest, _) => Ok(earliest.with_timezone(&Utc)),
        LocalResult::None => Err(CoreError::invalid(
            "time",
            format!(
                "{} does not exist on {} in {} because the clocks go forward. Choose another time.",
                time.format("%H:%M"),
                date.format("%-d %b %Y"),
                tz.name()
            ),
        )),
    }
}

/// The UTC range [start, end) covering one clinic calendar day (23, 24 or 25 hours long).
pub fn day_range(date: NaiveDate, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let start_of = |d: NaiveDate| -> DateTime<Utc> {
        // Midnight may itself be skipped (some zones change at 00:00); take the first instant of the day.
        (0..=120)
            .step_by(15)
            .find_map(|m| {
                tz.from_local_datetime(
                    &d.and_hms_opt(0, 0, 0).unwrap().checked_add_signed(chrono::Duration::minutes(m))?,
                )
                .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap()))
    };
    (start_of(date), start_of(date.succ_opt().unwrap_or(date)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn summer_and_winter_times_convert_with_the_right_offset() {
        let london: Tz = "Europe/London".parse().unwrap();
        assert_eq!(
            to_utc(d("2026-07-01"), parse_time("09:30").unwrap(), london).unwrap().to_rfc3339(),
            "2026-07-01T08:30:00+00:00"
        );
        assert_eq!(
            to_utc(d("2026-12-01"), parse_time("09:30").unwrap(), london).unwrap().to_rfc3339(),
            "2026-12-01T09:30:00+00:00"
        );
    }

    #[test]
    fn a_time_skipped_by_the_clocks_going_forward_is_refused() {
        let london: Tz = "Europe/London".parse().unwrap();
        let err = to_utc(d("2026-03-29"), parse_time("01:30").unwrap(), london).unwrap_err();
        assert_eq!(err.field(), Some("time"));
        assert!(err.to_string().contains("clocks go forward"));
    }

    #[test]
    fn an_hour_repeated_by_the_clocks_going_back_means_the_first_one() {
        let london: Tz = "Europe/London".parse().unwrap();
        let t = to_utc(d("2026-10-25"), parse_time("01:30").unwrap(), london).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-10-25T00:30:00+00:00");
    }

    #[test]
    fn a_day_is_23_or_25_hours_on_clock_change_days() {
        let london: Tz = "Europe/London".parse().unwrap();
        let (s, e) = day_range(d("2026-03-29"), london);
        assert_eq!((e - s).num_hours(), 23);
        let (s, e) = day_range(d("2026-10-25"), london);
        assert_eq!((e - s).num_hours(), 25);
        let (s, e) = day_range(d("2026-06-10"), london);
        assert_eq!((e - s).num_hours(), 24);
    }

    #[test]
    fn badly_typed_dates_and_times_name_their_field() {
        assert_eq!(parse_date("14/03/2026").unwrap_err().field(), Some("date"));
        assert_eq!(parse_time("9.30am").unwrap_err().field(), Some("time"));
        assert_eq!(parse_time("25:00").unwrap_err().field(), Some("time"));
    }
}
