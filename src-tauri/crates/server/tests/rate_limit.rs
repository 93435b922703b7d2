//! Each desk at its own pace: a desk over its share is answered "busy" in words (which desks take
//! as "try again in a moment"), while other desks and the health check go on being served.

mod support;

use clinicdesk_core::error::{CoreError, ErrorCode};
use clinicdesk_core::sync::{is_offline, ServerLink};
use clinicdesk_server::rate_limit::DeskLimits;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_over_its_share_is_told_to_wait_and_other_desks_are_served() {
    let c = support::clinic().await;
    // Five at once and practically no refill, so the count does not depend on the machine's speed.
    let limits = DeskLimits { per_second: 0.0001, burst: 5.0 };
    let (address, _) = clinicdesk_server::http::start_limited(
        &c.url,
        "127.0.0.1:0".parse().unwrap(),
        "test".into(),
        None,
        None,
        limits,
    )
    .await
    .unwrap();
    let base: url::Url = format!("http://{address}").parse().unwrap();
    let link_of = |credential: &str| ServerLink::new(&base, credential, None).unwrap();
    let db = c.pool.get().await.unwrap();
    let (_, front) = clinicdesk_server::desks::enroll(&**db, Some(&c.admin), "Front desk").await.unwrap();
    let (_, office) = clinicdesk_server::desks::enroll(&**db, Some(&c.admin), "Back office").await.unwrap();
    let (front, office) = (link_of(&front), link_of(&office));

    for _ in 0..5 {
        front.whoami().await.unwrap();
    }
    let busy = front.whoami().await.unwrap_err();
    match &busy {
        CoreError::Server { code: ErrorCode::Unavailable, message } => {
            assert!(message.starts_with("The clinic server is busy"), "{message}")
        }
        other => panic!("expected the server's busy answer, got {other:?}"),
    }
    assert!(is_offline(&busy), "a desk waits and tries again, as when the server cannot be reached");
    // Another desk, and a wrong credential guessed over and over, each have their own share.
    assert_eq!(office.whoami().await.unwrap().desk, "Back office");
    let guesser = link_of("not-a-desk");
    let mut refused = 0;
    for _ in 0..8 {
        match guesser.whoami().await.unwrap_err() {
            CoreError::Server { code: ErrorCode::Unavailable, .. } => refused += 1,
            CoreError::Server { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(refused, 3, "five refusals in words, then busy");
    // The monitor's health check is never limited.
    for _ in 0..10 {
        let health = reqwest::get(format!("http://{address}/health")).await.unwrap();
        assert_eq!(health.status(), 200);
    }
}
