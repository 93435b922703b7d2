//! When a text may go: quiet hours in the clinic's time zone, and when a reminder rule falls due.
//! All instants are UTC; local clock times are resolved through the clinic's zone, so DST changes
//! (a missing or repeated hour) are handled in one place.

use super::rules::{QuietHours, ReminderRule};
use crate::sms::TextKind;
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant a local clock time happens in `tz`. In a repeated hour (autumn) the first
/// occurrence; in a missing hour (spring) the moment the clocks jump, which is when a clock showing
/// that time "arrives".
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // Walk forward minute by minute to the end of the gap (at most a few hours anywhere).
            let mut probe = local;
            for _ in 0..(4 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&local)
        }
    }
}

/// When `rule` falls due for an appointment at `start`: whole days keep the clock time (the day
/// before at 09:00 for a 09:00 appointment, even across a DST change); other rules are elapsed time.
pub fn reminder_due(rule: ReminderRule, start: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    match rule.whole_days() {
        Some(days) => resolve_local(tz, start.with_timezone(&tz).naive_local() - Duration::days(days)),
        None => start - rule.duration(),
    }
}

/// If `at` falls in quiet hours, the instant they end (the next local `end`); otherwise `None`.
pub fn quiet_until(quiet: Option<QuietHours>, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let quiet = quiet?;
    let local = at.with_timezone(&tz).naive_local();
    if !quiet.contains(local.time()) {
        return None;
    }
    let today_end = local.date().and_time(quiet.end);
    let end = if today_end > local { today_end } else { today_end + Duration::days(1) };
    Some(resolve_local(tz, end))
}

/// What quiet hours make of a text that comes round at `now` on the clinic server (a retry after a
/// failed evening try, or a text queued before quiet hours were changed): the per-text form of the
/// desk's pass (`upkeep::run`), with the same outcomes. Only texts about an appointment the clinic
/// sends by its rules are held (staff's own texts and video links go when sent); one waits for the
/// morning unless the moment it matters (`news_before`: a move's old time if earlier, else the
/// appointment's start) comes first: then it goes now, and a reminder is dropped instead.
pub fn quiet_hold(
    quiet: Option<QuietHours>,
    tz: Tz,
    now: DateTime<Utc>,
    kind: TextKind,
    news_before: Option<DateTime<Utc>>,
) -> QuietVerdict {
    if !matches!(kind, TextKind::Confirmation | TextKind::Reschedule | TextKind::Cancellation | TextKind::Reminder) {
        return QuietVerdict::Go;
    }
    let (Some(morning), Some(matters)) = (quiet_until(quiet, now, tz), news_before) else { return QuietVerdict::Go };
    match kind {
        TextKind::Reminder if matters <= morning => QuietVerdict::Skip(format!(
            "Not sent: it fell due in quiet hours, which end at {} — after the appointment starts.",
            clock(morning, tz)
        )),
        _ if matters <= morning => QuietVerdict::Go,
        _ => QuietVerdict::Wait {
            until: morning,
            message: format!("Waiting for the end of the clinic's quiet hours: it goes at {}.", clock(morning, tz)),
        },
    }
}

/// What quiet hours make of a text that comes round (`quiet_hold`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuietVerdict {
    Go,
    Wait { until: DateTime<Utc>, message: String },
    Skip(String),
}

/// "08:00" for messages.
pub fn clock(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%H:%M").to_string()
}

/// "14:05 on Tue 3 Mar" for messages.
pub fn moment(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%H:%M on %a %-d %b").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointment_texts::rules::{parse_quiet_hours, parse_reminders};

    fn london(s: &str) -> DateTime<Utc> {
        resolve_local(chrono_tz::Europe::London, NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
    }

    #[test]
    fn a_day_before_keeps_the_clock_time_across_the_spring_change() {
        let tz = chrono_tz::Europe::London;
        let rules = parse_reminders("24h,2h").unwrap();
        // Clocks go forward at 01:00 GMT on Sunday 29 March 2026.
        let start = london("2026-03-29 09:00");
        assert_eq!(reminder_due(rules[0], start, tz), london("2026-03-28 09:00"));
        assert_eq!((start - reminder_due(rules[0], start, tz)).num_hours(), 23);
        assert_eq!(reminder_due(rules[1], start, tz), london("2026-03-29 07:00"));
        // Across the autumn change the day before is 25 hours earlier.
        let autumn = london("2026-10-25 09:00");
        assert_eq!((autumn - reminder_due(rules[0], autumn, tz)).num_hours(), 25);
    }

    #[test]
    fn quiet_hours_end_at_the_next_local_morning_even_on_a_dst_night() {
        let tz = chrono_tz::Europe::London;
        let quiet = parse_quiet_hours("21:00-08:00").unwrap();
        assert_eq!(quiet_until(quiet, london("2026-03-28 22:30"), tz), Some(london("2026-03-29 08:00")));
        assert_eq!(quiet_until(quiet, london("2026-03-29 03:00"), tz), Some(london("2026-03-29 08:00")));
        assert_eq!(quiet_until(quiet, london("2026-03-29 08:00"), tz), None);
        assert_eq!(quiet_until(None, london("2026-03-29 03:00"), tz), None);
        // A quiet window ending inside the missing hour ends when the clocks jump.
        let odd = parse_quiet_hours("00:30-01:30").unwrap();
        assert_eq!(quiet_until(odd, london("2026-03-29 00:45"), tz), Some(london("2026-03-29 02:00")));
    }

    #[test]
    fn a_text_that_comes_round_in_quiet_hours_waits_goes_or_is_dropped_by_what_it_is_about() {
        let quiet = parse_quiet_hours("21:00-08:00").unwrap();
        let tz = chrono_tz::Europe::London;
        let night = london("2026-03-02 23:30");
        let verdict = |kind, matters: Option<&str>, at| quiet_hold(quiet, tz, at, kind, matters.map(london));
        let wait = QuietVerdict::Wait {
            until: london("2026-03-03 08:00"),
            message: "Waiting for the end of the clinic's quiet hours: it goes at 08:00.".into(),
        };
        assert_eq!(verdict(TextKind::Confirmation, Some("2026-03-05 10:00"), night), wait);
        assert_eq!(
            verdict(TextKind::Confirmation, Some("2026-03-03 07:30"), night),
            QuietVerdict::Go,
            "news before the morning"
        );
        assert!(matches!(verdict(TextKind::Reminder, Some("2026-03-03 07:30"), night), QuietVerdict::Skip(_)));
        assert_eq!(verdict(TextKind::Reminder, Some("2026-03-03 09:00"), night), wait);
        // A move away from 07:30 tomorrow: its news matters before the morning, so it goes.
        assert_eq!(verdict(TextKind::Reschedule, Some("2026-03-03 07:30"), night), QuietVerdict::Go);
        assert_eq!(verdict(TextKind::Reschedule, Some("2026-03-05 10:00"), night), wait);
        assert_eq!(verdict(TextKind::Custom, None, night), QuietVerdict::Go, "staff's own text");
        assert_eq!(verdict(TextKind::Invite, Some("2026-03-05 10:00"), night), QuietVerdict::Go, "a video link");
        assert_eq!(
            verdict(TextKind::Confirmation, Some("2026-03-05 10:00"), london("2026-03-02 20:59")),
            QuietVerdict::Go
        );
        assert_eq!(quiet_hold(None, tz, night, TextKind::Reminder, Some(london("2026-03-05 10:00"))), QuietVerdict::Go);
    }
}
