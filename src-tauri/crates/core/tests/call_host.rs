//! The loopback call host over real HTTP: the one-time code, the Host and Origin checks, the page's
//! headers, the reports, and what is refused.

use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::call_host::{CallHost, CallHostPhase, CallTicket, PageAsset, PageAssets, CODE_LIFETIME_SECONDS};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

const PAGE: &str = "<!doctype html><title>call</title><script src=\"/assets/call.js\"></script>";

fn assets() -> PageAssets {
    Arc::new(|path: &str| match path {
        "call.html" => Some(PageAsset { bytes: PAGE.as_bytes().into(), mime: "text/html".into() }),
        "assets/call.js" => {
            Some(PageAsset { bytes: b"console.log(1)".as_slice().into(), mime: "text/javascript".into() })
        }
        "index.html" => Some(PageAsset { bytes: b"the app".as_slice().into(), mime: "text/html".into() }),
        _ => None,
    })
}

struct Rig {
    host: CallHost,
    now: Arc<Mutex<DateTime<Utc>>>,
    http: reqwest::Client,
}

impl Rig {
    async fn start() -> Rig {
        let now = Arc::new(Mutex::new(Utc::now()));
        let clock = now.clone();
        let host = CallHost::start_with_clock(assets(), Arc::new(move || *clock.lock().unwrap())).await.unwrap();
        Rig { host, now, http: reqwest::Client::new() }
    }
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.host.port())
    }
    fn issue(&self, appointment: Uuid) -> String {
        let link = self.host.issue(CallTicket {
            appointment_id: appointment,
            token: "header.claims.signature".into(),
            identity: "d-7a1b".into(),
            room: "cd-room-1".into(),
            remote_name: "Olivia Smith".into(),
            expires_at: Utc::now() + Duration::hours(1),
        });
        assert!(link.starts_with(&format!("{}/call.html#code=", self.base())), "{link}");
        link.split_once("#code=").unwrap().1.to_owned()
    }
    async fn exchange(&self, code: &str) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/api/exchange", self.base()))
            .json(&json!({ "code": code }))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

#[tokio::test]
async fn a_code_gives_the_ticket_once_and_later_tries_get_a_sentence() {
    let rig = Rig::start().await;
    let appointment = Uuid::new_v4();
    let code = rig.issue(appointment);
    let mut reports = rig.host.subscribe();

    let (status, ticket) = rig.exchange(&code).await;
    assert_eq!(status, 200);
    assert_eq!((ticket["room"].as_str(), ticket["remote_name"].as_str()), (Some("cd-room-1"), Some("Olivia Smith")));
    assert_eq!(ticket["token"], "header.claims.signature");
    assert!(ticket["report_key"].as_str().unwrap().len() >= 32);
    let opened = reports.recv().await.unwrap();
    assert_eq!((opened.appointment_id, opened.phase), (appointment, CallHostPhase::Opened));

    let (status, again) = rig.exchange(&code).await;
    assert_eq!(status, 410);
    assert_eq!(again["message"], "This link was already used. Open the call again from ClinicDesk.");
    let (status, unknown) = rig.exchange("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(status, 404);
    assert!(unknown["message"].as_str().unwrap().contains("not valid"));
}

#[tokio::test]
async fn a_code_expires_and_a_new_link_revokes_the_old_one() {
    let rig = Rig::start().await;
    let appointment = Uuid::new_v4();
    let stale = rig.issue(appointment);
    *rig.now.lock().unwrap() += Duration::seconds(CODE_LIFETIME_SECONDS + 1);
    let (status, expired) = rig.exchange(&stale).await;
    assert_eq!(status, 410);
    assert!(expired["message"].as_str().unwrap().contains("expired"));

    let old = rig.issue(appointment);
    let new = rig.issue(appointment);
    assert_eq!(rig.exchange(&old).await.0, 404, "the earlier link for the appointment stops working");
    assert_eq!(rig.exchange(&new).await.0, 200);
}

#[tokio::test]
async fn other_hosts_and_other_origins_are_refused() {
    let rig = Rig::start().await;
    let code = rig.issue(Uuid::new_v4());
    // DNS rebinding: a page at evil.example resolving to 127.0.0.1 sends its own Host.
    let rebound = rig
        .http
        .post(format!("{}/api/exchange", rig.base()))
        .header("Host", "evil.example")
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status().as_u16(), 421);
    let page = rig.http.get(format!("{}/call.html", rig.base())).header("Host", "localhost").send().await.unwrap();
    assert_eq!(page.status().as_u16(), 421);
    let cross = rig
        .http
        .post(format!("{}/api/exchange", rig.base()))
        .header("Origin", "https://evil.example")
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status().as_u16(), 403);
    // Neither refusal used the code up.
    assert_eq!(rig.exchange(&code).await.0, 200);
}

#[tokio::test]
async fn only_the_page_and_its_assets_are_served_with_strict_headers() {
    let rig = Rig::start().await;
    let page = rig.http.get(format!("{}/call.html", rig.base())).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let h = page.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'")
            && csp.contains("script-src 'self';")
            && csp.contains("frame-ancestors 'none'")
    );
    assert!(!csp.contains("script-src 'self' 'unsafe"), "no inline scripts");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(page.text().await.unwrap(), PAGE);

    let script = rig.http.get(format!("{}/assets/call.js", rig.base())).send().await.unwrap();
    assert_eq!(
        (script.status().as_u16(), script.headers()["content-type"].to_str().unwrap()),
        (200, "text/javascript")
    );
    for path in ["/index.html", "/", "/assets/../index.html", "/assets/%2e%2e/index.html", "/assets/..%2Findex.html"] {
        let r = rig.http.get(format!("{}{path}", rig.base())).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{path}");
        assert_ne!(r.text().await.unwrap(), "the app", "{path}");
    }
}

#[tokio::test]
async fn reports_need_the_key_handed_out_with_the_ticket() {
    let rig = Rig::start().await;
    let appointment = Uuid::new_v4();
    let (_, ticket) = rig.exchange(&rig.issue(appointment)).await;
    let key = ticket["report_key"].as_str().unwrap();
    let mut reports = rig.host.subscribe();

    let url = format!("{}/api/report", rig.base());
    let wrong =
        rig.http.post(&url).bearer_auth("not-the-key").json(&json!({ "phase": "connected" })).send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let long = "x".repeat(5000);
    let ok = rig
        .http
        .post(&url)
        .bearer_auth(key)
        .json(&json!({ "phase": "disconnected", "message": long }))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 204);
    let report = reports.recv().await.unwrap();
    assert_eq!((report.appointment_id, report.phase), (appointment, CallHostPhase::Disconnected));
    assert_eq!(report.message.unwrap().chars().count(), 300, "a report's sentence is cut short");

    let huge =
        rig.http.post(&url).bearer_auth(key).body(vec![b'{'; 64 * 1024]).header("content-type", "application/json");
    assert_eq!(huge.send().await.unwrap().status().as_u16(), 413);
}

#[tokio::test]
async fn connections_held_open_in_silence_cannot_starve_the_page() {
    use clinicdesk_core::call_host::ConnectionLimits;
    use tokio::io::AsyncReadExt;
    let limits = ConnectionLimits { max_connections: 3, idle: std::time::Duration::from_millis(300) };
    let host = CallHost::start_with(assets(), Arc::new(Utc::now), limits).await.unwrap();
    let address = format!("127.0.0.1:{}", host.port());
    // Another program fills every place and says nothing.
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::net::TcpStream::connect(&address).await.unwrap());
    }
    // The page still loads: the silent connections are closed and their places freed. (The guard
    // only stops a broken build from hanging the suite; it is far longer than the idle limit.)
    let page = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        reqwest::get(format!("http://{address}/call.html")).await.unwrap().text().await.unwrap()
    })
    .await
    .expect("the page should load once the silent connections are closed");
    assert_eq!(page, PAGE);
    for mut connection in silent {
        let mut byte = [0u8; 1];
        let read = connection.read(&mut byte).await;
        assert!(matches!(read, Ok(0) | Err(_)), "a silent connection is closed by the server: {read:?}");
    }
    host.shutdown();
}
