//! What changing the clinic's time zone means for appointments already booked. Appointments are
//! stored as instants (UTC), so a new zone keeps every appointment at its moment in time and only
//! changes the clock time shown; reception must see that before it happens.

use crate::db::ts;
use crate::error::Result;
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;

/// Upcoming means not yet started and still open (the statuses `AppointmentStatus::is_open` names).
const UPCOMING: &str = "starts_at >= ?1 AND status IN ('scheduled', 'confirmed', 'checked_in')";

/// A sentence saying what moving from `from` to `to` does to the upcoming appointments, with a real
/// example from the schedule; `None` when nothing upcoming is affected.
pub(crate) fn impact(conn: &Connection, now: DateTime<Utc>, from: Tz, to: Tz) -> Result<Option<String>> {
    if from == to {
        return Ok(None);
    }
    let count: i64 =
        conn.query_row(&format!("SELECT count(*) FROM appointments WHERE {UPCOMING}"), [ts(now)], |r| r.get(0))?;
    if count == 0 {
        return Ok(None);
    }
    // The first appointment whose clock time really changes makes the best example; zones that
    // agree today may differ later in the year (daylight saving), so look further than the first.
    let mut stmt = conn.prepare(&format!("SELECT starts_at FROM appointments WHERE {UPCOMING} ORDER BY starts_at"))?;
    let mut rows = stmt.query([ts(now)])?;
    let (mut first, mut example) = (None, None);
    while let Some(row) = rows.next()? {
        let start: DateTime<Utc> = row.get(0)?;
        if local(start, from) != local(start, to) {
            example = Some(start);
            break;
        }
        first.get_or_insert(start);
    }
    let Some(example) = example.or(first) else { return Ok(None) };
    Ok(Some(sentence(count, example, from, to)))
}

fn local(instant: DateTime<Utc>, tz: Tz) -> NaiveDateTime {
    instant.with_timezone(&tz).naive_local()
}

fn sentence(count: i64, example: DateTime<Utc>, from: Tz, to: Tz) -> String {
    let (before, after) = (local(example, from), local(example, to));
    let (subject, verb_phrase) = if count == 1 {
        ("1 upcoming appointment".to_owned(), "will keep its moment in time; its clock time will show")
    } else {
        (format!("{count} upcoming appointments"), "will keep their moment in time; their clock times will show")
    };
    let was = format!("{} on {}", before.format("%H:%M"), before.format("%a %-d %b"));
    let becomes = if before == after {
        format!("{was} stays {}", after.format("%H:%M"))
    } else if before.date() == after.date() {
        format!("{was} becomes {}", after.format("%H:%M"))
    } else {
        format!("{was} becomes {} on {}", after.format("%H:%M"), after.format("%a %-d %b"))
    };
    format!("{subject} {verb_phrase} in the new zone, {}, e.g. {becomes}.", to.name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn tz(name: &str) -> Tz {
        name.parse().unwrap()
    }

    #[test]
    fn the_sentence_shows_a_real_clock_time_in_both_zones() {
        let at = Utc.with_ymd_and_hms(2026, 3, 3, 9, 0, 0).unwrap();
        assert_eq!(
            sentence(12, at, tz("Europe/London"), tz("Europe/Paris")),
            "12 upcoming appointments will keep their moment in time; their clock times will show in the new zone, Europe/Paris, e.g. 09:00 on Tue 3 Mar becomes 10:00."
        );
        let late = Utc.with_ymd_and_hms(2026, 3, 3, 23, 30, 0).unwrap();
        assert_eq!(
            sentence(1, late, tz("Europe/London"), tz("Europe/Paris")),
            "1 upcoming appointment will keep its moment in time; its clock time will show in the new zone, Europe/Paris, e.g. 23:30 on Tue 3 Mar becomes 00:30 on Wed 4 Mar."
        );
    }
}
