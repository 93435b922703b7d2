//! The clinic thinks in its own wall-clock time; the database stores UTC. These conversions are the
//! only place the two meet, so daylight-saving edge cases are handled once.

use crate::error::{CoreError, Result};
use chrono::{DateTime, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

pub fn parse_date(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| CoreError::invalid("date", "Enter the date as YYYY-MM-DD, for example 2026-03-14."))
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
