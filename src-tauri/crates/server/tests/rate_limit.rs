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
    let db = c.pool.get().await.unwrap();
    let (_, front) = clinicdesk_server::desks::enroll(&**db, Some(&c.admin), "Front desk").await.unwrap();
    let (_, office) = clinicdesk_server::desks::enroll(&**db, Some(&c.admin), "Back office").await.unwrap();
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
    // Another desk has its own share; guessed credentials, however many, share one, and never
    // take an enrolled desk's.
    assert_eq!(office.whoami().await.unwrap().desk, "Back office");
    let mut busy = 0;
    for i in 0..8 {
        match link_of(&format!("guess {i}")).whoami().await.unwrap_err() {
            CoreError::Server { code: ErrorCode::Unavailable, .. } => busy += 1,
            CoreError::Server { code: ErrorCode::Forbidden, .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(busy, 3, "five refusals in words, then busy");
    for _ in 0..3 {
        office.whoami().await.unwrap();
    }
    // A desk enrolled meanwhile is known within seconds (the guesses ask the server to look).
    let (_, late) = clinicdesk_server::desks::enroll(&**db, Some(&c.admin), "Late desk").await.unwrap();
    let late = link_of(&late);
    let mut served = false;
    for _ in 0..100 {
        if late.whoami().await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(served, "the new desk should be served once the server has read the enrolled desks again");
    // The monitor's health check is never limited.
    for _ in 0..10 {
        let health = reqwest::get(format!("http://{address}/health")).await.unwrap();
        assert_eq!(health.status(), 200);
    }
}
