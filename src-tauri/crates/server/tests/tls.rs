//! Desks reach the clinic server over TLS (OpenSSL); without a certificate it serves loopback only.

mod support;

use clinicdesk_server::http::{start, Tls};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509NameBuilder, X509};

/// A self-signed certificate for 127.0.0.1, as PEM (certificate, key).
fn self_signed() -> (Vec<u8>, Vec<u8>) {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "clinic server test").unwrap();
    let name = name.build();
    let mut cert = X509::builder().unwrap();
    cert.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    cert.set_serial_number(&serial.to_asn1_integer().unwrap()).unwrap();
    cert.set_subject_name(&name).unwrap();
    cert.set_issuer_name(&name).unwrap();
    cert.set_pubkey(&key).unwrap();
    cert.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    cert.set_not_after(&Asn1Time::days_from_now(2).unwrap()).unwrap();
    let san =
        SubjectAlternativeName::new().ip("127.0.0.1").dns("localhost").build(&cert.x509v3_context(None, None)).unwrap();
    cert.append_extension(san).unwrap();
    cert.sign(&key, MessageDigest::sha256()).unwrap();
    (cert.build().to_pem().unwrap(), key.private_key_to_pem_pkcs8().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desks_talk_to_the_server_over_tls_only() {
    let c = support::clinic().await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    let tls = Tls { cert: dir.path().join("cert.pem"), key: dir.path().join("key.pem") };
    std::fs::write(&tls.cert, &cert).unwrap();
    std::fs::write(&tls.key, &key).unwrap();

    let (address, _) = start(&c.url, "127.0.0.1:0".parse().unwrap(), "tls".into(), Some(tls.clone())).await.unwrap();
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .build()
        .unwrap();
    let health: serde_json::Value =
        trusting.get(format!("https://{address}/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["database"], "reachable");
    // A desk that does not trust this certificate does not talk to it, and plain HTTP gets nothing.
    assert!(reqwest::get(format!("https://{address}/health")).await.is_err(), "an unknown certificate is refused");
    let plain = reqwest::get(format!("http://{address}/health")).await;
    assert!(!plain.map(|r| r.status().is_success()).unwrap_or(false), "plain HTTP is not answered");

    // Without a certificate, only loopback.
    let refused = start(&c.url, "0.0.0.0:0".parse().unwrap(), "open".into(), None).await.unwrap_err();
    assert!(refused.to_string().starts_with("Refusing to serve 0.0.0.0:0 without TLS"), "{refused}");
    // A missing or wrong key file is named, not a panic.
    let wrong = Tls { cert: tls.cert.clone(), key: dir.path().join("missing.pem") };
    let refused = start(&c.url, "127.0.0.1:0".parse().unwrap(), "bad".into(), Some(wrong)).await.unwrap_err();
    assert!(refused.to_string().contains("missing.pem cannot be read by this user"), "{refused}");
    // Certificate and key swapped: the message says which file is not what it should be.
    let swapped = Tls { cert: tls.key.clone(), key: tls.cert.clone() };
    let refused = start(&c.url, "127.0.0.1:0".parse().unwrap(), "swapped".into(), Some(swapped)).await.unwrap_err();
    assert!(refused.to_string().contains("key.pem is not a PEM certificate (is it the key?"), "{refused}");
}
