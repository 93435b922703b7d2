//! The fake's incoming texts, the Messages list's filters and paging, and Messaging Service
//! numbers, over real HTTP as the core reads them.

use clinicdesk_twilio_fake::{FakeTwilio, ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER};
use serde_json::Value;

const PATIENT: &str = "+447400123456";
const SERVICE: &str = "MG33333333333333333333333333333333";

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get(fake: &FakeTwilio, path_and_query: &str) -> (u16, Value) {
    let answer = client()
        .get(format!("{}{path_and_query}", fake.url()))
        .basic_auth(ACCOUNT_SID, Some(AUTH_TOKEN))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap())
}

async fn list(fake: &FakeTwilio, query: &[(&str, &str)]) -> Value {
    let answer = client()
        .get(format!("{}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", fake.url()))
        .basic_auth(ACCOUNT_SID, Some(AUTH_TOKEN))
        .query(query)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    answer.json().await.unwrap()
}

fn sids(page: &Value) -> Vec<String> {
    page["messages"].as_array().unwrap().iter().map(|m| m["sid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_posted_text_is_listed_as_inbound_and_received_with_rfc_2822_dates() {
    let fake = FakeTwilio::start().await;
    let answer = client()
        .post(format!("{}/fake/incoming", fake.url()))
        .form(&[("From", PATIENT), ("To", FROM_NUMBER), ("Body", "Yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let sid = answer.json::<Value>().await.unwrap()["sid"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("SM") && sid.len() == 34, "{sid}");
    let page = list(&fake, &[("To", FROM_NUMBER)]).await;
    let m = &page["messages"][0];
    assert_eq!(
        (m["sid"].as_str(), m["direction"].as_str(), m["status"].as_str()),
        (Some(&*sid), Some("inbound"), Some("received"))
    );
    assert_eq!(
        (m["from"].as_str(), m["to"].as_str(), m["body"].as_str()),
        (Some(PATIENT), Some(FROM_NUMBER), Some("Yes"))
    );
    for field in ["date_sent", "date_created"] {
        chrono::DateTime::parse_from_rfc2822(m[field].as_str().unwrap()).unwrap_or_else(|e| panic!("{field}: {e}"));
    }
    // A number the account does not own cannot receive.
    let refused = client()
        .post(format!("{}/fake/incoming", fake.url()))
        .form(&[("From", PATIENT), ("To", "+15550000000"), ("Body", "Yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn to_from_and_date_sent_filter_by_day_like_twilio() {
    let fake = FakeTwilio::start().await;
    let now = chrono::Utc::now();
    let yesterday = now - chrono::Duration::days(1);
    let today_sid = fake.receive(PATIENT, FROM_NUMBER, "today");
    let old_sid = fake.receive_at(PATIENT, FROM_NUMBER, "yesterday", yesterday);
    let other = fake.receive("+447400999999", FROM_NUMBER, "someone else");
    fake.add_message(PATIENT, "sent by the clinic", now);
    assert_eq!(
        sids(&list(&fake, &[("To", FROM_NUMBER), ("From", PATIENT)]).await),
        vec![today_sid.clone(), old_sid.clone()]
    );
    // DateSent> counts days: a full timestamp later today still includes all of today.
    let today = now.format("%Y-%m-%d").to_string();
    let later_today = now.format("%Y-%m-%dT23:59:59Z").to_string();
    let mut since_today = sids(&list(&fake, &[("To", FROM_NUMBER), ("DateSent>", &today)]).await);
    since_today.sort();
    let mut expected = vec![today_sid.clone(), other.clone()];
    expected.sort();
    assert_eq!(since_today, expected);
    assert_eq!(sids(&list(&fake, &[("To", FROM_NUMBER), ("DateSent>", &later_today)]).await).len(), 2);
    let until_yesterday = yesterday.format("%Y-%m-%d").to_string();
    assert_eq!(sids(&list(&fake, &[("To", FROM_NUMBER), ("DateSent<", &until_yesterday)]).await), vec![old_sid]);
    assert_eq!(sids(&list(&fake, &[("To", PATIENT)]).await).len(), 1, "the clinic's own text, not the replies");
}

#[tokio::test]
async fn paging_follows_page_tokens_and_is_not_shifted_by_new_arrivals() {
    let fake = FakeTwilio::start().await;
    let start = chrono::Utc::now() - chrono::Duration::minutes(30);
    let all: Vec<String> = (0..7)
        .map(|i| fake.receive_at(PATIENT, FROM_NUMBER, &format!("reply {i}"), start + chrono::Duration::minutes(i)))
        .collect();
    let first = list(&fake, &[("To", FROM_NUMBER), ("PageSize", "3")]).await;
    assert_eq!(sids(&first), vec![all[6].clone(), all[5].clone(), all[4].clone()], "newest first");
    let next = first["next_page_uri"].as_str().unwrap().to_owned();
    assert!(next.contains(&format!("PageToken=PA{}", all[4])), "{next}");
    assert!(next.contains("To=%2B15005550006") && next.contains("PageSize=3"), "{next}");
    // Two new texts arrive between pages: the token still continues after the last one seen.
    fake.receive(PATIENT, FROM_NUMBER, "new 1");
    fake.receive(PATIENT, FROM_NUMBER, "new 2");
    let (status, second) = get(&fake, &next).await;
    assert_eq!(status, 200);
    assert_eq!(sids(&second), vec![all[3].clone(), all[2].clone(), all[1].clone()]);
    let (_, third) = get(&fake, second["next_page_uri"].as_str().unwrap()).await;
    assert_eq!(sids(&third), vec![all[0].clone()]);
    assert!(third["next_page_uri"].is_null(), "the last page names no next page");
}

#[tokio::test]
async fn a_messaging_service_lists_its_numbers_and_sends_from_one() {
    let fake = FakeTwilio::start().await;
    fake.add_messaging_service(SERVICE, &["+447700900001", "+447700900002", "+447700900003"]);
    let (status, first) = get(&fake, &format!("/v1/Services/{SERVICE}/PhoneNumbers?PageSize=2")).await;
    assert_eq!(status, 200);
    let numbers = |page: &Value| -> Vec<String> {
        page["phone_numbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["phone_number"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(numbers(&first), vec!["+447700900001", "+447700900002"]);
    assert_eq!(first["meta"]["key"], "phone_numbers");
    let next = first["meta"]["next_page_url"].as_str().unwrap();
    let path = &next[next.find("/v1/").unwrap()..];
    let (_, second) = get(&fake, path).await;
    assert_eq!(numbers(&second), vec!["+447700900003"]);
    assert!(second["meta"]["next_page_url"].is_null());
    let (missing, body) = get(&fake, "/v1/Services/MG44444444444444444444444444444444/PhoneNumbers").await;
    assert_eq!((missing, body["code"].as_u64()), (404, Some(20404)));
    // A reply to a service number carries the service's SID; a text sent through it, a From.
    fake.receive(PATIENT, "+447700900002", "C");
    let page = list(&fake, &[("To", "+447700900002")]).await;
    assert_eq!(page["messages"][0]["messaging_service_sid"], SERVICE);
    let sent = client()
        .post(format!("{}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", fake.url()))
        .basic_auth(ACCOUNT_SID, Some(AUTH_TOKEN))
        .form(&[("To", PATIENT), ("MessagingServiceSid", SERVICE), ("Body", "Hello")])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.json::<Value>().await.unwrap()["from"], "+447700900001");
}
