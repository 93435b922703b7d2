//! Text templates: the built-in wording, admins' own wording and its checks, the preview (exact
//! text, segments, encoding, UCS-2 culprits, look-alikes, cost), and pasted text being normalised
//! on save and when staff send a text.

mod common;

use clinicdesk_core::auth::Role;
use clinicdesk_core::sms::segments::{self, Encoding};
use clinicdesk_core::sms::templates::{self, TemplateData, TemplateName};
use clinicdesk_core::sms::TextKind;
use common::*;

const PATIENT: &str = "+447400123456";

/// Long but real names: a default that fits one segment with these fits for almost every patient.
fn long_realistic_data() -> TemplateData {
    TemplateData {
        patient_first_name: "Maximilian".into(),
        clinic_name: "Riverside Family Health Centre".into(),
        clinic_phone: "020 7946 0000".into(),
        doctor_name: "Dr Chiamaka Okonkwo-Hughes".into(),
        date: "Wed 30 Sep".into(),
        time: "12:45 PM".into(),
        booking_ref: "CD-7KQ2MX".into(),
        video_link: Some("https://join.example.com/v/7KQ2MX4PLW".into()),
    }
}

fn render(t: &TestClinic, name: TemplateName, data: &TemplateData) -> String {
    let conn = t.clinic.db().conn().unwrap();
    templates::render_template(&conn, name, data).unwrap()
}

fn template_audit(t: &TestClinic) -> Vec<(Option<String>, Option<String>)> {
    let entries = t.clinic.audit().recent(&t.admin(), None, 100).unwrap();
    entries.into_iter().filter(|e| e.action == "sms.template").map(|e| (e.record_id, e.detail)).collect()
}

#[test]
fn every_default_fits_one_gsm7_segment_with_long_realistic_names() {
    let t = TestClinic::set_up();
    for name in TemplateName::ALL {
        let text = render(&t, name, &long_realistic_data());
        let count = segments::count(&text);
        assert_eq!((count.encoding, count.segments), (Encoding::Gsm7, 1), "{name:?}: {text} ({} chars)", text.len());
        assert!(!text.contains(['{', '}']), "every placeholder filled: {text}");
    }
}

#[test]
fn the_kinds_the_appointment_texts_use_are_filled_from_the_data() {
    let t = TestClinic::set_up();
    let conn = t.clinic.db().conn().unwrap();
    let data = long_realistic_data();
    let confirmation = templates::render(&conn, TextKind::Confirmation, &data).unwrap();
    assert_eq!(
        confirmation,
        "Hi Maximilian, you are booked with Dr Chiamaka Okonkwo-Hughes at Riverside Family Health Centre on Wed 30 Sep at 12:45 PM. Ref CD-7KQ2MX."
    );
    let invite = templates::render(&conn, TextKind::Invite, &data).unwrap();
    assert!(invite.ends_with("Join: https://join.example.com/v/7KQ2MX4PLW"), "{invite}");
    let custom = templates::render(&conn, TextKind::Custom, &data).unwrap_err();
    assert_eq!(custom.field(), Some("kind"));
}

#[test]
fn render_uses_the_clinics_saved_wording_until_it_is_reset() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    let data = TemplateData {
        patient_first_name: "Ada".into(),
        date: "Tue 3 Mar".into(),
        time: "14:05".into(),
        ..Default::default()
    };
    let saved =
        t.clinic.templates().set(&admin, TemplateName::Reminder, "Hi {first_name}, see you {date} at {time}.").unwrap();
    assert!(!saved.is_default);
    let conn = t.clinic.db().conn().unwrap();
    assert_eq!(templates::render(&conn, TextKind::Reminder, &data).unwrap(), "Hi Ada, see you Tue 3 Mar at 14:05.");
    drop(conn);

    let reset = t.clinic.templates().reset(&admin, TemplateName::Reminder).unwrap();
    assert!(reset.is_default);
    assert_eq!(reset.body, TemplateName::Reminder.default_body());
    assert!(render(&t, TemplateName::Reminder, &data).contains("Reply C to confirm"));
}

#[test]
fn an_unknown_placeholder_is_refused_beside_the_body_and_nothing_is_saved() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    let err =
        t.clinic.templates().set(&admin, TemplateName::Confirmation, "Hi {frist_name}, see you soon.").unwrap_err();
    assert_eq!((err.code().as_str(), err.field()), ("invalid", Some("body")));
    let message = err.to_string();
    assert!(message.contains("{frist_name} is not a placeholder ClinicDesk knows"), "{message}");
    assert!(message.contains("Did you mean {first_name}?") && message.contains("Use one of:"), "{message}");
    // The preview refuses the draft with the same words, so the editor can show it while typing.
    let draft = t.clinic.templates().preview(&admin, TemplateName::Confirmation, Some("Hi {frist_name}")).unwrap_err();
    assert_eq!(draft.field(), Some("body"));
    assert!(t.clinic.templates().get(&admin, TemplateName::Confirmation).unwrap().is_default);
    assert!(template_audit(&t).is_empty());
}

#[test]
fn only_admins_change_templates_but_all_staff_read_them() {
    let t = TestClinic::set_up();
    let desk = t.add_user("desk@clinic.example", Role::Reception);
    let doctor = t.add_user("doc@clinic.example", Role::Doctor);
    let refused = t.clinic.templates().set(&desk, TemplateName::PleaseCall, "Call us, {first_name}.").unwrap_err();
    assert_eq!(refused.code(), "forbidden");
    assert_eq!(t.clinic.templates().reset(&doctor, TemplateName::Reminder).unwrap_err().code(), "forbidden");

    let listed = t.clinic.templates().list(&desk).unwrap();
    assert_eq!(listed.len(), TemplateName::ALL.len());
    let quick: Vec<&str> = listed.iter().filter(|t| t.is_quick_text).map(|t| t.name.as_str()).collect();
    assert_eq!(quick, ["quick.running_late", "quick.please_call", "quick.results_ready", "quick.missed_appointment"]);
    assert!(listed.iter().all(|t| t.is_default));
    assert!(t.clinic.templates().preview(&doctor, TemplateName::VideoInvite, None).is_ok());
}

#[test]
fn saving_and_resetting_are_audited_with_the_wording_and_a_no_op_is_not() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    t.clinic.templates().set(&admin, TemplateName::PleaseCall, "Please call us, {first_name}.").unwrap();
    t.clinic.templates().set(&admin, TemplateName::PleaseCall, "Please call us, {first_name}.").unwrap();
    t.clinic.templates().reset(&admin, TemplateName::PleaseCall).unwrap();
    t.clinic.templates().reset(&admin, TemplateName::PleaseCall).unwrap();
    // Saving the built-in wording is a reset: nothing stored, so later defaults still reach the clinic.
    let default = TemplateName::Reminder.default_body();
    assert!(t.clinic.templates().set(&admin, TemplateName::Reminder, default).unwrap().is_default);
    assert_eq!(
        template_audit(&t),
        vec![
            (Some("quick.please_call".into()), Some("quick.please_call back to the built-in wording".into())),
            (
                Some("quick.please_call".into()),
                Some("quick.please_call now reads \"Please call us, {first_name}.\"".into())
            ),
        ],
        "newest first; the repeated save and reset and the default wording changed nothing"
    );
}

#[test]
fn pasted_line_ends_tabs_and_odd_spaces_are_normalised_on_save() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    let pasted = "Hi {first_name},\r\nwe are running late\ttoday.\u{00A0}Sorry!\r\n";
    let saved = t.clinic.templates().set(&admin, TemplateName::RunningLate, pasted).unwrap();
    assert_eq!(saved.body, "Hi {first_name},\nwe are running late today. Sorry!");
    assert_eq!(t.clinic.templates().get(&admin, TemplateName::RunningLate).unwrap().body, saved.body);
    let bell = t.clinic.templates().set(&admin, TemplateName::RunningLate, "Hi\u{7} {first_name}").unwrap_err();
    assert_eq!(bell.field(), Some("body"));
    assert!(bell.to_string().contains("U+0007"), "{bell}");
}

#[test]
fn a_text_pasted_with_crlf_is_sent_with_lf_and_a_real_control_character_is_still_refused() {
    let t = TestClinic::set_up();
    let desk = t.add_user("desk@clinic.example", Role::Reception);
    let text = t.clinic.texts().send(&desk, PATIENT, "Line one\r\nLine two\twith a tab\u{00A0}and NBSP\r\n").unwrap();
    assert_eq!(text.body, "Line one\nLine two with a tab and NBSP");
    assert_eq!(t.clinic.texts().get(&desk, text.id).unwrap().body, text.body);
    assert_eq!(text.encoding, Encoding::Gsm7, "no UCS-2 from an invisible character");
    let err = t.clinic.texts().send(&desk, PATIENT, "Hello\u{1b}[31m").unwrap_err();
    assert_eq!(err.field(), Some("body"));
    assert!(err.to_string().contains("invisible control character (U+001B)"), "{err}");
}

#[test]
fn look_alikes_are_offered_in_the_preview_and_replaced_only_on_request() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    let pasted = "Hi {first_name}, we’re running late – sorry…";
    let preview = t.clinic.templates().preview(&admin, TemplateName::RunningLate, Some(pasted)).unwrap();
    assert_eq!(preview.encoding, Encoding::Ucs2);
    let found: Vec<(&str, &str)> =
        preview.look_alikes.iter().map(|l| (l.found.as_str(), l.replacement.as_str())).collect();
    assert_eq!(found, [("’", "'"), ("–", "-"), ("…", "...")]);
    let codes: Vec<&str> = preview.ucs2_characters.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["U+2019", "U+2013", "U+2026"]);
    let gsm_body = preview.gsm_body.clone().expect("a GSM-7 version is offered");
    assert_eq!(gsm_body, "Hi {first_name}, we're running late - sorry...");

    // Saving keeps what was typed; the replacement is the admin's choice.
    assert_eq!(t.clinic.templates().set(&admin, TemplateName::RunningLate, pasted).unwrap().body, pasted);
    t.clinic.templates().set(&admin, TemplateName::RunningLate, &gsm_body).unwrap();
    let after = t.clinic.templates().preview(&admin, TemplateName::RunningLate, None).unwrap();
    assert_eq!((after.encoding, after.segments), (Encoding::Gsm7, 1));
    assert!(after.look_alikes.is_empty() && after.ucs2_characters.is_empty() && after.gsm_body.is_none());
    assert_eq!(after.text, "Hi Alexandra, we're running late - sorry...");
}

#[test]
fn characters_without_a_gsm7_twin_are_listed_as_forcing_ucs2() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    let draft = "Hi {first_name} 🙂 see you soon, Zoë";
    let preview = t.clinic.templates().preview(&admin, TemplateName::PleaseCall, Some(draft)).unwrap();
    assert_eq!(preview.encoding, Encoding::Ucs2);
    let listed: Vec<(&str, &str)> =
        preview.ucs2_characters.iter().map(|c| (c.character.as_str(), c.code.as_str())).collect();
    assert_eq!(listed, [("🙂", "U+1F642"), ("ë", "U+00EB")]);
    assert!(preview.look_alikes.is_empty(), "an emoji has no look-alike to offer");
}

#[test]
fn the_cost_is_segments_times_the_price_per_segment() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    let unpriced = t.clinic.templates().preview(&admin, TemplateName::Confirmation, None).unwrap();
    assert_eq!((unpriced.segments, unpriced.cost), (1, None));

    t.clinic.set_texting_setting(&admin, "sms.price_per_segment", "0.04").unwrap();
    let one = t.clinic.templates().preview(&admin, TemplateName::Confirmation, None).unwrap();
    assert_eq!(one.cost.as_deref(), Some("0.04"));
    let long = format!("Hi {{first_name}}, {}", "please read this. ".repeat(10));
    let two = t.clinic.templates().preview(&admin, TemplateName::PleaseCall, Some(&long)).unwrap();
    assert_eq!((two.segments, two.cost.as_deref()), (2, Some("0.08")));
    let ucs2 = t.clinic.templates().preview(&admin, TemplateName::PleaseCall, Some(&format!("{long}🙂"))).unwrap();
    assert_eq!((ucs2.segments, ucs2.cost.as_deref()), (3, Some("0.12")), "one emoji: UCS-2, a third segment");
}

#[test]
fn the_preview_is_the_exact_text_with_the_clinics_name_phone_and_way_of_writing_times() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    let draft = "{clinic_name}: {first_name}, see {doctor} {date} at {time}. Call {clinic_phone}.";
    let before = t.clinic.templates().preview(&admin, TemplateName::Reminder, Some(draft)).unwrap();
    // The test clock says Monday 2 March 2026; the sample appointment is the next day at 14:30.
    assert_eq!(before.text, "Riverside Clinic: Alexandra, see Dr Amara Okafor Tue 3 Mar at 14:30. Call .");
    assert!(before.notes.iter().any(|n| n.contains("phone number is not set")), "{:?}", before.notes);
    assert_eq!(before.characters as usize, before.text.chars().count());

    t.clinic.set_texting_setting(&admin, "clinic.phone", "020 7946 0000").unwrap();
    t.clinic.settings().set(&admin, "clinic.default_country", "US").unwrap();
    let after = t.clinic.templates().preview(&admin, TemplateName::Reminder, Some(draft)).unwrap();
    assert_eq!(
        after.text,
        "Riverside Clinic: Alexandra, see Dr Amara Okafor Tue, Mar 3 at 2:30 PM. Call 020 7946 0000."
    );
    assert!(after.notes.is_empty(), "{:?}", after.notes);
}

#[test]
fn placeholders_that_do_not_belong_are_refused_and_the_invite_needs_its_link() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    let refuse = |name, body: &str| t.clinic.templates().set(&admin, name, body).unwrap_err().to_string();
    assert!(refuse(TemplateName::Confirmation, "Join {video_link}").contains("only be used in the video invite"));
    assert!(refuse(TemplateName::ResultsReady, "See you {date}").contains("cannot be used in a quick text"));
    assert!(refuse(TemplateName::VideoInvite, "Hi {first_name}").contains("must contain {video_link}"));
    assert!(refuse(TemplateName::Reminder, "Hi {first_name").contains("not closed"));
    let long = format!("Hi {}", "{clinic_name} ".repeat(14));
    assert!(refuse(TemplateName::Reminder, &long).contains("could reach"));
}
