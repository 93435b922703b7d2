//! The clinic's Twilio account at a fake Twilio, and video appointments at a time the tests need,
//! for the tests of what desks do through the server's Twilio account.

use super::{booking, now, DeskComputer, TestClinic, ZONE};
use chrono::{DurationRound, TimeDelta};
use clinicdesk_core::appointments::{AppointmentKind, BookingRequest};
use clinicdesk_core::twilio::http::Endpoints;
use clinicdesk_server::twilio_setup;
use clinicdesk_twilio_fake::FakeTwilio;
use std::os::unix::fs::PermissionsExt;
use uuid::Uuid;

/// The clinic's Twilio account at the fake, from a root-only file in `dir` (as in production).
pub fn clinic_twilio(fake: &FakeTwilio, dir: &std::path::Path) -> twilio_setup::Texting {
    let path = dir.join("twilio");
    std::fs::write(
        &path,
        format!(
            "account_sid={}\napi_key_sid={}\napi_key_secret={}\nauth_token={}\nfrom={}\n",
            clinicdesk_twilio_fake::ACCOUNT_SID,
            clinicdesk_twilio_fake::API_KEY_SID,
            clinicdesk_twilio_fake::API_KEY_SECRET,
            clinicdesk_twilio_fake::AUTH_TOKEN,
            clinicdesk_twilio_fake::FROM_NUMBER
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    twilio_setup::load(&path, Endpoints::all_at(&fake.url())).unwrap()
}

/// The server in-process with the clinic's Twilio account (so it is also the elected sender).
pub async fn serve_with_twilio(c: &TestClinic, fake: &FakeTwilio, dir: &std::path::Path) -> std::net::SocketAddr {
    let texting = clinic_twilio(fake, dir);
    let listen = "127.0.0.1:0".parse().unwrap();
    let (address, _) =
        clinicdesk_server::http::start_with(&c.url, listen, "test".into(), None, Some(texting)).await.unwrap();
    address
}

/// A video appointment of `minutes` for `patient` with `doctor`, starting `ahead` from now cut
/// down to a multiple of `round` in the clinic's zone (a patient's link can be made from a day
/// before the slot ends, Twilio's limit).
pub fn video_in(patient: Uuid, doctor: Uuid, minutes: u32, ahead: TimeDelta, round: TimeDelta) -> BookingRequest {
    let zone: chrono_tz::Tz = ZONE.parse().unwrap();
    let at = (now() + ahead).duration_trunc(round).unwrap().with_timezone(&zone);
    let mut video = booking(patient, doctor, "09:00", minutes);
    (video.date, video.time, video.kind) =
        (at.format("%Y-%m-%d").to_string(), at.format("%H:%M").to_string(), AppointmentKind::Video);
    video
}

/// Books the first patient's 30-minute video appointment with the first doctor, about three hours
/// from now on a quarter hour.
pub async fn video_booking(c: &TestClinic) -> Uuid {
    let video = video_in(c.patients[0], c.doctors[0], 30, TimeDelta::hours(3), TimeDelta::minutes(15));
    clinicdesk_server::appointments::book(&c.pool, &c.reception, &video, None, now()).await.unwrap().id
}

/// How many rows of `table` a desk holds for the appointment.
pub fn count_on(desk: &DeskComputer, table: &str, appointment: Uuid) -> i64 {
    desk.clinic
        .db()
        .conn()
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table} WHERE appointment_id = ?1"), [appointment.to_string()], |r| {
            r.get(0)
        })
        .unwrap()
}
