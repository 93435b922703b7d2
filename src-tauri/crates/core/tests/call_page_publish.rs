//! Publishing the patient's call page to the clinic's Twilio account, against the fake Serverless
//! API: the files land as public assets, the build is deployed and its address becomes the call
//! page setting; publishing again replaces the page without a second service; a failed build, a
//! refused upload or a busy Twilio change nothing patients see; only administrators publish.

mod common;
mod consultation_rig;

use clinicdesk_core::call_page::{PageFile, PublishOptions, PublishProgress, SERVICE_NAME};
use clinicdesk_core::error::ErrorCode;
use clinicdesk_twilio_fake::{Fault, Route};
use consultation_rig::*;
use std::time::Duration;

fn page(version: &str) -> Vec<PageFile> {
    vec![
        PageFile {
            path: "call.html".into(),
            bytes: format!("<!doctype html><title>call {version}</title>").into_bytes(),
            mime: "text/html".into(),
        },
        PageFile {
            path: format!("assets/call-{version}.js"),
            bytes: format!("console.log('{version}')").into_bytes(),
            mime: "text/javascript".into(),
        },
        PageFile { path: "assets/call.css".into(), bytes: b"body{}".to_vec(), mime: "text/css".into() },
    ]
}

const QUICK: PublishOptions =
    PublishOptions { poll_every: Duration::from_millis(5), give_up_after: Duration::from_secs(10) };

/// The domain of a published page's address.
fn domain(url: &str) -> &str {
    url.strip_prefix("https://").and_then(|rest| rest.split('/').next()).expect("an https address")
}

#[tokio::test]
async fn publishing_uploads_the_page_builds_deploys_and_points_links_at_it() {
    let r = rig().await;
    let mut steps = Vec::new();
    let published =
        r.clinic().call_page().publish(&r.admin, &r.http, &page("v1"), QUICK, |p| steps.push(p)).await.unwrap();

    assert!(published.url.starts_with(&format!("https://{SERVICE_NAME}-")), "{}", published.url);
    assert!(published.url.ends_with("-patients.twil.io/call.html"), "{}", published.url);
    assert_eq!((published.files, published.bytes), (3, page("v1").iter().map(|f| f.bytes.len() as u64).sum()));
    // What Twilio serves at that address is the page, public, with its content type.
    let served = r.fake.served(domain(&published.url), "/call.html").expect("the page is served");
    assert_eq!(served.content, page("v1")[0].bytes);
    assert_eq!((served.content_type.as_str(), served.visibility.as_str()), ("text/html", "public"));
    let script = r.fake.served(domain(&published.url), "/assets/call-v1.js").unwrap();
    assert_eq!(script.content_type, "text/javascript");

    // Progress went through every step in order, each upload counted, the build polled.
    assert_eq!(steps.first(), Some(&PublishProgress::Preparing { files: 3 }));
    let uploads: Vec<u32> = steps
        .iter()
        .filter_map(|s| if let PublishProgress::Uploading { done, .. } = s { Some(*done) } else { None })
        .collect();
    assert_eq!(uploads, [0, 1, 2, 3]);
    assert!(steps.iter().any(|s| matches!(s, PublishProgress::Building { .. })), "{steps:?}");
    assert_eq!(steps.last(), Some(&PublishProgress::Deploying));

    // Patients' links now open it; Settings says when it was published; the act is audited.
    let video = r.clinic().consultations().video_settings(&r.desk).unwrap();
    assert_eq!(video.call_page_url, published.url);
    assert!(video.published_at.is_some());
    let link = r.clinic().consultations().patient_link(&r.okafor, r.appt).unwrap();
    assert!(link.url.starts_with(&format!("{}#t=", published.url)), "{}", link.url);
    let audit = r.clinic().audit().recent(&r.admin, None, 20).unwrap();
    assert!(audit
        .iter()
        .any(|e| e.action == "video.call_page_publish" && e.detail.as_deref().is_some_and(|d| d.contains("3 files"))));
}

#[tokio::test]
async fn publishing_again_replaces_the_page_in_the_same_service_and_address() {
    let r = rig().await;
    let first = r.clinic().call_page().publish(&r.admin, &r.http, &page("v1"), QUICK, |_| {}).await.unwrap();
    let second = r.clinic().call_page().publish(&r.admin, &r.http, &page("v2"), QUICK, |_| {}).await.unwrap();
    assert_eq!(second.url, first.url, "the same address: links already sent keep working");
    let (services, environments, builds, deployments) = r.fake.serverless_counts();
    assert_eq!((services, environments, builds, deployments), (1, 1, 2, 2));
    let d = domain(&second.url);
    assert_eq!(r.fake.served(d, "/call.html").unwrap().content, page("v2")[0].bytes);
    assert!(r.fake.served(d, "/assets/call-v2.js").is_some());
    assert!(r.fake.served(d, "/assets/call-v1.js").is_none(), "the old build's files are no longer served");
    // Assets are found again by path: only the new script needed a new one (3 + 1).
    let created = r.fake.requests().iter().filter(|l| l.starts_with("POST ") && l.ends_with("/Assets")).count();
    assert_eq!(created, 4);
}

#[tokio::test]
async fn a_failed_build_says_so_and_leaves_the_page_patients_use() {
    let r = rig().await;
    let first = r.clinic().call_page().publish(&r.admin, &r.http, &page("v1"), QUICK, |_| {}).await.unwrap();
    r.fake.fail_next_build();
    let err = r.clinic().call_page().publish(&r.admin, &r.http, &page("v2"), QUICK, |_| {}).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable);
    let words = err.to_string();
    assert!(
        words.starts_with("Twilio could not build the page, so the call page was not published and nothing changed"),
        "{words}"
    );
    assert!(words.contains("nothing changed for patients' links"), "{words}");
    // Still the first page, at the same address, not redeployed.
    assert_eq!(r.fake.served(domain(&first.url), "/call.html").unwrap().content, page("v1")[0].bytes);
    assert_eq!(r.fake.serverless_counts().3, 1);
    assert_eq!(r.clinic().consultations().video_settings(&r.admin).unwrap().call_page_url, first.url);
}

#[tokio::test]
async fn a_build_that_never_finishes_is_given_up_with_a_sentence() {
    let r = rig().await;
    r.fake.set_build_polls(1_000);
    let patience = PublishOptions { poll_every: Duration::from_millis(5), give_up_after: Duration::from_millis(50) };
    let err = r.clinic().call_page().publish(&r.admin, &r.http, &page("v1"), patience, |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("still building the page"), "{err}");
    assert_eq!(r.clinic().consultations().video_settings(&r.admin).unwrap().call_page_url, "");
}

#[tokio::test]
async fn twilio_busy_during_an_upload_is_waited_for_and_a_refusal_is_explained() {
    let r = rig().await;
    // 429 on an upload: Twilio did nothing, so the upload is repeated and publishing carries on.
    r.fake.inject(Route::UploadAssetVersion, Fault::TooManyRequests { retry_after_secs: 0 });
    r.fake.inject(Route::BuildStatus, Fault::Unavailable);
    let published = r.clinic().call_page().publish(&r.admin, &r.http, &page("v1"), QUICK, |_| {}).await.unwrap();
    assert!(r.fake.served(domain(&published.url), "/assets/call.css").is_some());

    // Credentials Twilio refuses: the administrator reads what to check.
    r.fake.reject_credentials(true);
    let err = r.clinic().call_page().publish(&r.admin, &r.http, &page("v2"), QUICK, |_| {}).await.unwrap_err();
    let words = err.to_string();
    assert!(words.starts_with("Twilio refused ClinicDesk's credentials"), "{words}");
    assert!(words.contains("so the call page was not published"), "{words}");
    r.fake.reject_credentials(false);

    // Twilio unreachable.
    let closed = http_to("http://127.0.0.1:9");
    let err = r.clinic().call_page().publish(&r.admin, &closed, &page("v2"), QUICK, |_| {}).await.unwrap_err();
    assert!(err.to_string().starts_with("ClinicDesk could not reach Twilio"), "{err}");
    assert_eq!(r.fake.served(domain(&published.url), "/call.html").unwrap().content, page("v1")[0].bytes);
}

#[tokio::test]
async fn only_an_administrator_publishes_and_only_a_real_page() {
    let r = rig().await;
    for who in [&r.desk, &r.okafor] {
        let err = r.clinic().call_page().publish(who, &r.http, &page("v1"), QUICK, |_| {}).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden);
    }
    let no_entry = vec![page("v1").remove(1)];
    let err = r.clinic().call_page().publish(&r.admin, &r.http, &no_entry, QUICK, |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("has no call.html"), "{err}");
    assert!(r.fake.requests().iter().all(|l| !l.contains("/v1/Services")), "nothing reached Twilio");

    let untwilioed = rig_with(false).await;
    let err =
        untwilioed.clinic().call_page().publish(&untwilioed.admin, &untwilioed.http, &page("v1"), QUICK, |_| {}).await;
    assert!(err.unwrap_err().to_string().starts_with("Twilio is not set up on this computer"));
}
