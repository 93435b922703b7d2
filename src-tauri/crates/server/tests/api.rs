//! The desks' API over real HTTP against an in-process server on a real PostgreSQL: desk and staff
//! authentication, commands applied once however often they are sent, refusals in the core's words,
//! and the long-poll feed waking a desk when another desk books.

mod support;

use clinicdesk_server::desks;
use serde_json::{json, Value};
use uuid::Uuid;

struct Desk {
    base: String,
    credential: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Desk {
    async fn sign_in(&mut self, email: &str, password: &str) -> (u16, Value) {
        let answer = self
            .http
            .post(format!("{}/v1/sign-in", self.base))
            .header("x-clinicdesk-desk", &self.credential)
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap();
        if status == 200 {
            self.token = Some(body["token"].as_str().unwrap().to_string());
        }
        (status, body)
    }

    async fn command(&self, client_id: Uuid, command: Value) -> (u16, Value) {
        let answer = self
            .http
            .post(format!("{}/v1/commands", self.base))
            .header("x-clinicdesk-desk", &self.credential)
            .bearer_auth(self.token.as_deref().unwrap_or_default())
            .json(&json!({ "client_id": client_id, "command": command }))
            .send()
            .await
            .unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap())
    }

    async fn pull(&self, after: &str, wait: u64) -> Value {
        let answer = self
            .http
            .get(format!("{}/v1/changes?after={after}&wait={wait}", self.base))
            .header("x-clinicdesk-desk", &self.credential)
            .bearer_auth(self.token.as_deref().unwrap_or_default())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answer.json().await.unwrap()
    }
}

async fn server(c: &support::TestClinic) -> String {
    let (address, _) =
        clinicdesk_server::http::start(&c.url, "127.0.0.1:0".parse().unwrap(), "test".into(), None).await.unwrap();
    format!("http://{address}")
}

async fn desk(c: &support::TestClinic, base: &str, name: &str) -> Desk {
    let client = c.pool.get().await.unwrap();
    let (_, credential) = desks::enroll(&**client, Some(&c.admin), name).await.unwrap();
    Desk { base: base.to_string(), credential, token: None, http: reqwest::Client::new() }
}

fn book(c: &support::TestClinic, patient: usize, time: &str) -> Value {
    let request = support::booking(c.patients[patient], c.doctors[0], time, 30);
    json!({ "type": "book", "appointment_id": Uuid::new_v4(), "booking": request })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_enrolled_desks_and_signed_in_staff_get_in() {
    let c = support::clinic().await;
    let base = server(&c).await;
    let mut stranger =
        Desk { base: base.clone(), credential: "made-up".into(), token: None, http: reqwest::Client::new() };
    let (status, body) = stranger.sign_in("desk@clinic.example", "desk password 1").await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    assert!(body["message"].as_str().unwrap().contains("not enrolled with the clinic server"));

    let mut front = desk(&c, &base, "Front desk").await;
    let (status, body) = front.sign_in("desk@clinic.example", "wrong password").await;
    assert_eq!((status, body["message"].as_str()), (401, Some("The email or password is not correct.")));
    // No session yet: the feed and commands refuse.
    let (status, body) = front.command(Uuid::new_v4(), book(&c, 0, "10:00")).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("not_signed_in")));
    for _ in 0..4 {
        front.sign_in("desk@clinic.example", "wrong password").await;
    }
    let (status, body) = front.sign_in("desk@clinic.example", "desk password 1").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("account_locked")),
        "five wrong passwords lock, as on a desk"
    );
    let (status, body) = front.sign_in("admin@clinic.example", "admin password 1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "admin");
    // A session belongs to the desk it was issued on.
    let mut other = desk(&c, &base, "Room 2").await;
    other.token = front.token.clone();
    assert_eq!(other.command(Uuid::new_v4(), book(&c, 0, "10:00")).await.0, 401);
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM audit_log WHERE action = 'auth.sign_in'"), "1");
    // One enrolled desk per name; a revoked desk is locked out at once, sessions and all.
    let client = c.pool.get().await.unwrap();
    let twice = desks::enroll(&**client, Some(&c.admin), "front DESK").await.unwrap_err();
    assert!(twice.to_string().contains("is already enrolled"), "{twice}");
    desks::revoke(&**client, "Front desk", chrono::Utc::now()).await.unwrap();
    let (status, body) = front.command(Uuid::new_v4(), book(&c, 0, "10:00")).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    assert!(desks::revoke(&**client, "Front desk", chrono::Utc::now()).await.is_err(), "already revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_sent_again_after_a_lost_answer_is_applied_once() {
    let c = support::clinic().await;
    let base = server(&c).await;
    let mut front = desk(&c, &base, "Front desk").await;
    front.sign_in("desk@clinic.example", "desk password 1").await;
    let (id, command) = (Uuid::new_v4(), book(&c, 0, "10:00"));
    let (status, first) = front.command(id, command.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["ok"]["local_start"], "10:00");
    // The desk never saw that answer (the network dropped it) and sends the command again, also
    // several copies at once: the same outcome each time, one appointment.
    let copies: Vec<_> = (0..5).map(|_| front.command(id, command.clone())).collect();
    for (status, again) in futures_util::future::join_all(copies).await {
        assert_eq!(status, 200);
        assert_eq!(again, first, "the first outcome, not a second booking");
    }
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM appointments"), "1");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM audit_log WHERE action = 'appointment.book'"), "1");
    // The appointment keeps the id the desk gave it (a provisional booking keeps its identity).
    assert_eq!(first["ok"]["id"], command["appointment_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_desks_race_for_a_slot_one_wins_and_the_other_reads_why() {
    let c = support::clinic().await;
    let base = server(&c).await;
    let mut front = desk(&c, &base, "Front desk").await;
    let mut back = desk(&c, &base, "Back office").await;
    front.sign_in("desk@clinic.example", "desk password 1").await;
    back.sign_in("admin@clinic.example", "admin password 1").await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let ((sa, oa), (sb, ob)) =
        tokio::join!(front.command(a, book(&c, 0, "14:00")), back.command(b, book(&c, 1, "14:15")));
    assert_eq!((sa, sb), (200, 200), "a refusal is an outcome, not a failure: {oa} {ob}");
    let outcomes = [oa, ob];
    let won: Vec<_> = outcomes.iter().filter(|o| o.get("ok").is_some()).collect();
    let lost: Vec<_> = outcomes.iter().filter(|o| o.get("refused").is_some()).collect();
    assert_eq!((won.len(), lost.len()), (1, 1), "{outcomes:?}");
    assert_eq!(lost[0]["refused"]["code"], "conflict");
    let sentence = lost[0]["refused"]["message"].as_str().unwrap();
    assert!(sentence.starts_with("Dr Meredith Grey is already booked from 14:"), "{sentence}");
    // The refused command, sent again, is answered the same way (and is not booked later).
    let loser = if outcomes[0].get("refused").is_some() {
        (&front, a, book(&c, 0, "14:00"))
    } else {
        (&back, b, book(&c, 1, "14:15"))
    };
    assert_eq!(&loser.0.command(loser.1, loser.2).await.1, lost[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_desk_is_woken_by_another_desks_booking() {
    let c = support::clinic().await;
    let base = server(&c).await;
    let mut reception = desk(&c, &base, "Front desk").await;
    let mut doctor = desk(&c, &base, "Room 1").await;
    reception.sign_in("desk@clinic.example", "desk password 1").await;
    let (status, me) = doctor.sign_in("grey@clinic.example", "doctor password 1").await;
    assert_eq!(status, 200);
    assert_eq!(me["doctor_id"], json!(c.doctors[0]));
    // The doctor's desk catches up, then waits for news.
    let caught_up = doctor.pull("", 0).await;
    assert!(caught_up["changes"].as_array().unwrap().iter().any(|ch| ch["entity"] == "patient"));
    let cursor = caught_up["cursor"].as_str().unwrap().to_string();
    let waiting = tokio::spawn({
        let doctor = Desk {
            base: doctor.base.clone(),
            credential: doctor.credential.clone(),
            token: doctor.token.clone(),
            http: reqwest::Client::new(),
        };
        async move { doctor.pull(&cursor, 25).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, booked) = reception.command(Uuid::new_v4(), book(&c, 2, "16:00")).await;
    let news = waiting.await.unwrap();
    let changes = news["changes"].as_array().unwrap();
    // The booking, and the confirmation text it queued (desks show texts too).
    let entities: Vec<&str> = changes.iter().map(|c| c["entity"].as_str().unwrap()).collect();
    assert_eq!(entities, ["appointment", "text"], "{news}");
    assert_eq!(changes[0]["row"]["booking_ref"], booked["ok"]["booking_ref"]);
    // Nothing new: an empty answer with the same cursor.
    let quiet = doctor.pull(news["cursor"].as_str().unwrap(), 0).await;
    assert_eq!(quiet["changes"], json!([]));
    assert_eq!(quiet["cursor"], news["cursor"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_and_cancellations_follow_the_desk_rules_and_race_safely() {
    let c = support::clinic().await;
    let base = server(&c).await;
    let mut front = desk(&c, &base, "Front desk").await;
    let mut back = desk(&c, &base, "Back office").await;
    front.sign_in("desk@clinic.example", "desk password 1").await;
    back.sign_in("admin@clinic.example", "admin password 1").await;
    let date = support::booking(c.patients[0], c.doctors[0], "10:00", 30).date;
    let change = |time: &str, version: Option<i64>| json!({ "date": date, "time": time, "minutes": null, "expected_version": version });
    let refused = |outcome: &Value| outcome["refused"]["message"].as_str().unwrap_or_default().to_string();

    let a = front.command(Uuid::new_v4(), book(&c, 0, "10:00")).await.1["ok"].clone();
    let a_id = a["id"].as_str().unwrap().to_string();
    let moved = front
        .command(Uuid::new_v4(), json!({ "type": "move", "appointment_id": a_id, "change": change("12:00", Some(1)) }))
        .await
        .1;
    assert_eq!(
        (moved["ok"]["local_start"].as_str(), moved["ok"]["version"].as_i64()),
        (Some("12:00"), Some(2)),
        "{moved}"
    );
    // A move made on the copy from before that move is refused, in the desk's words.
    let stale = back
        .command(Uuid::new_v4(), json!({ "type": "move", "appointment_id": a_id, "change": change("15:00", Some(1)) }))
        .await
        .1;
    assert!(refused(&stale).starts_with("Someone else changed this appointment a moment ago"), "{stale}");
    // 10:00 is free again; 12:00 is not.
    let b = front.command(Uuid::new_v4(), book(&c, 1, "10:00")).await.1;
    let b_id = b["ok"]["id"].as_str().expect("10:00 was freed by the move").to_string();
    let onto = front
        .command(Uuid::new_v4(), json!({ "type": "move", "appointment_id": b_id, "change": change("12:15", None) }))
        .await
        .1;
    assert!(refused(&onto).starts_with("Dr Meredith Grey is already booked from 12:00 to 12:30"), "{onto}");
    // Cancelling: a reason is required; then the slot is free; a cancelled one cannot be moved or
    // cancelled again.
    let no_reason = front
        .command(
            Uuid::new_v4(),
            json!({ "type": "cancel", "appointment_id": a_id, "reason": " ", "expected_version": 2 }),
        )
        .await
        .1;
    assert_eq!(no_reason["refused"]["code"], "invalid");
    let cancelled = front
        .command(Uuid::new_v4(), json!({ "type": "cancel", "appointment_id": a_id, "reason": "Patient called to cancel", "expected_version": 2 }))
        .await
        .1;
    assert_eq!(cancelled["ok"]["status"], "cancelled");
    let again = front
        .command(
            Uuid::new_v4(),
            json!({ "type": "cancel", "appointment_id": a_id, "reason": "twice", "expected_version": null }),
        )
        .await
        .1;
    assert_eq!(refused(&again), "This appointment is already cancelled.");
    let revive = front
        .command(Uuid::new_v4(), json!({ "type": "move", "appointment_id": a_id, "change": change("16:00", None) }))
        .await
        .1;
    assert_eq!(refused(&revive), "This appointment is cancelled and can no longer be moved.");
    // Two desks move two appointments into the same free slot at once: the engine lets one in.
    let d = front.command(Uuid::new_v4(), book(&c, 2, "08:00")).await.1["ok"]["id"].as_str().unwrap().to_string();
    let (x, y) = tokio::join!(
        front.command(
            Uuid::new_v4(),
            json!({ "type": "move", "appointment_id": b_id, "change": change("17:00", None) })
        ),
        back.command(Uuid::new_v4(), json!({ "type": "move", "appointment_id": d, "change": change("17:10", None) })),
    );
    let wins = [&x.1, &y.1].iter().filter(|o| o.get("ok").is_some()).count();
    assert_eq!(wins, 1, "{x:?} {y:?}");
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM audit_log WHERE action = 'appointment.cancel'"), "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_sent_in_parallel_cannot_outrun_the_lockout_and_sign_out_ends_a_session() {
    let c = support::clinic().await;
    let base = server(&c).await;
    let mut front = desk(&c, &base, "Front desk").await;
    front.sign_in("admin@clinic.example", "admin password 1").await;
    let token = front.token.clone();
    // Twenty wrong guesses at once: at most four are answered "wrong password", the rest "locked".
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let mut d = Desk {
                base: base.clone(),
                credential: front.credential.clone(),
                token: None,
                http: reqwest::Client::new(),
            };
            async move { d.sign_in("desk@clinic.example", &format!("guess number {i}")).await }
        })
        .collect();
    let answers = futures_util::future::join_all(guesses).await;
    let wrong = answers.iter().filter(|(_, b)| b["code"] == "bad_credentials").count();
    let locked = answers.iter().filter(|(_, b)| b["code"] == "account_locked").count();
    assert_eq!(wrong + locked, 20);
    assert!(wrong <= 4, "only the first four guesses are checked ({wrong} were)");
    assert_eq!(front.sign_in("desk@clinic.example", "desk password 1").await.1["code"], "account_locked");
    // Signing out ends the session on the server at once.
    front.token = token;
    let signed_out = front
        .http
        .post(format!("{base}/v1/sign-out"))
        .header("x-clinicdesk-desk", &front.credential)
        .bearer_auth(front.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 200);
    assert_eq!(front.command(Uuid::new_v4(), book(&c, 0, "10:00")).await.1["code"], "not_signed_in");
}
