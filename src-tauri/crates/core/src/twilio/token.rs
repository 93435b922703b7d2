//! Twilio Access Tokens, minted locally for the JS SDKs (twilio-video, @twilio/conversations).
//!
//! Format (TWILIO.md): an HS256 JWT signed with the API Key *secret*, header
//! `{"alg","cty":"twilio-fpa;v=1",["twr"],"typ"}` and payload `jti, grants, iss, exp, nbf, sub` with no
//! `iat`. Keys are serialised in exactly the official library's order (structs, not maps), so the
//! official test vector is reproduced byte for byte. Signed with HMAC-SHA256 directly (the same
//! primitive jsonwebtoken uses) so one keyed HMAC serves every token of a key.

use crate::error::{CoreError, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

/// Twilio refuses tokens that live longer than a day (error 20157).
pub const TWILIO_MAX_TTL_SECONDS: u32 = 24 * 3600;
pub const DEFAULT_TTL_SECONDS: u32 = 3600;
/// The clinic's own ceiling unless configured otherwise: long enough for a consultation, short
/// enough that a leaked token is soon useless.
pub const DEFAULT_MAX_TTL_SECONDS: u32 = 4 * 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// An opaque id (never an email or a name: Twilio logs identities).
    pub identity: String,
    /// Grant access to this video room (`None` = no video grant).
    pub video_room: Option<String>,
    /// Grant chat on this Conversations service (IS…).
    pub chat_service_sid: Option<String>,
    pub ttl_seconds: u32,
}

pub struct TokenKey<'a> {
    pub account_sid: &'a str,
    pub api_key_sid: &'a str,
    pub api_key_secret: &'a str,
    /// Twilio region (`twr` header), only when one is configured.
    pub region: Option<&'a str>,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    cty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    twr: Option<&'a str>,
    typ: &'static str,
}

#[derive(Serialize)]
struct VideoGrant<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
}

#[derive(Serialize)]
struct ChatGrant<'a> {
    service_sid: &'a str,
}

#[derive(Serialize)]
struct Grants<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    video: Option<VideoGrant<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chat: Option<ChatGrant<'a>>,
    identity: &'a str,
}

/// Checks an identity is an opaque id Twilio accepts and that reveals nothing about a person.
pub fn check_identity(identity: &str) -> Result<()> {
    let ok = !identity.is_empty()
        && identity.len() <= 121
        && identity.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !identity.contains('@');
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "identity",
            "An identity must be an opaque id of letters, digits, '-', '_' or '.' (no emails or names).",
        ))
    }
}

/// Mints tokens for one API key: the header is encoded and the HMAC keyed once, then each token
/// costs one payload serialisation and one HMAC over the signing input.
pub struct TokenMinter {
    header_b64: String,
    /// `{"jti":"SK…-` — the payload up to the issue time.
    payload_start: String,
    /// `","iss":"SK…","exp":` — between the grants and the expiry.
    payload_iss: String,
    /// `,"sub":"AC…"}` — after the not-before time.
    payload_end: String,
    mac: Hmac<Sha256>,
    max_ttl_seconds: u32,
}

impl TokenMinter {
    pub fn new(key: &TokenKey<'_>, max_ttl_seconds: u32) -> Self {
        let header = Header { alg: "HS256", cty: "twilio-fpa;v=1", twr: key.region, typ: "JWT" };
        let header_b64 = B64.encode(serde_json::to_vec(&header).expect("header serialises"));
        let mac = Hmac::<Sha256>::new_from_slice(key.api_key_secret.as_bytes()).expect("HMAC takes keys of any length");
        // The payload's constant parts, JSON-escaped once. Field order is the official one:
        // jti, grants, iss, exp, nbf, sub.
        let sid = serde_json::to_string(key.api_key_sid).expect("string serialises");
        let account = serde_json::to_string(key.account_sid).expect("string serialises");
        TokenMinter {
            header_b64,
            payload_start: format!("{{\"jti\":{}-", &sid[..sid.len() - 1]),
            payload_iss: format!(",\"iss\":{sid},\"exp\":"),
            payload_end: format!(",\"sub\":{account}}}"),
            mac,
            max_ttl_seconds: max_ttl_seconds.min(TWILIO_MAX_TTL_SECONDS),
        }
    }

    /// A token valid from `now_unix` for `request.ttl_seconds`, refusing lifetimes over the cap.
    pub fn mint(&self, request: &TokenRequest, now_unix: i64) -> Result<String> {
        self.mint_not_before(request, now_unix, now_unix)
    }

    /// Like [`TokenMinter::mint`], but not valid before `not_before_unix` (a patient's link sent
    /// ahead of the appointment). As in Twilio's own libraries, the expiry still counts from now
    /// (`exp = now + ttl`), so the cap bounds how long the token exists, and `jti` stays unique.
    pub fn mint_not_before(&self, request: &TokenRequest, now_unix: i64, not_before_unix: i64) -> Result<String> {
        check_identity(&request.identity)?;
        let expires = now_unix + i64::from(request.ttl_seconds);
        if not_before_unix < now_unix || not_before_unix >= expires {
            return Err(CoreError::invalid("not_before", "A token must become valid between now and its expiry."));
        }
        let max = self.max_ttl_seconds;
        if request.ttl_seconds == 0 || request.ttl_seconds > max {
            return Err(CoreError::invalid("ttl", format!("A token may live between 1 and {max} seconds.")));
        }
        let grants = Grants {
            video: request.video_room.as_deref().map(|room| VideoGrant { room: Some(room) }),
            chat: request.chat_service_sid.as_deref().map(|service_sid| ChatGrant { service_sid }),
            identity: &request.identity,
        };
        let mut json = String::with_capacity(320);
        json.push_str(&self.payload_start);
        json.push_str(itoa::Buffer::new().format(now_unix));
        json.push_str("\",\"grants\":");
        json.push_str(&serde_json::to_string(&grants).expect("grants serialise"));
        json.push_str(&self.payload_iss);
        json.push_str(itoa::Buffer::new().format(expires));
        json.push_str(",\"nbf\":");
        json.push_str(itoa::Buffer::new().format(not_before_unix));
        json.push_str(&self.payload_end);
        let mut token = String::with_capacity(self.header_b64.len() + json.len() * 4 / 3 + 48);
        token.push_str(&self.header_b64);
        token.push('.');
        B64.encode_string(&json, &mut token);
        let mut mac = self.mac.clone();
        mac.update(token.as_bytes());
        token.push('.');
        B64.encode_string(mac.finalize().into_bytes(), &mut token);
        Ok(token)
    }
}

/// Mints one token (see `TokenMinter` to mint many with one key).
pub fn mint(key: &TokenKey<'_>, request: &TokenRequest, now_unix: i64, max_ttl_seconds: u32) -> Result<String> {
    TokenMinter::new(key, max_ttl_seconds).mint(request, now_unix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Algorithm;

    const VECTOR: &str = "eyJhbGciOiJIUzI1NiIsImN0eSI6InR3aWxpby1mcGE7dj0xIiwidHlwIjoiSldUIn0.eyJqdGkiOiJTSzExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExLTE3MDAwMDAwMDAiLCJncmFudHMiOnsidmlkZW8iOnsicm9vbSI6ImFwcHQtNDIifSwiY2hhdCI6eyJzZXJ2aWNlX3NpZCI6IklTMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIifSwiaWRlbnRpdHkiOiJkci5zbWl0aCJ9LCJpc3MiOiJTSzExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExIiwiZXhwIjoxNzAwMDAzNjAwLCJuYmYiOjE3MDAwMDAwMDAsInN1YiI6IkFDMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAifQ.RTX77yj_tN9myiLFXzvPci-JaPOxZ3p5Q9hi2N9BbTM";

    fn key() -> TokenKey<'static> {
        TokenKey {
            account_sid: "AC00000000000000000000000000000000",
            api_key_sid: "SK11111111111111111111111111111111",
            api_key_secret: "test-api-key-secret-0123456789abcdef",
            region: None,
        }
    }

    fn request() -> TokenRequest {
        TokenRequest {
            identity: "dr.smith".into(),
            video_room: Some("appt-42".into()),
            chat_service_sid: Some("IS22222222222222222222222222222222".into()),
            ttl_seconds: DEFAULT_TTL_SECONDS,
        }
    }

    /// The payload's claims (the signature is checked in `verifies_with_the_secret_and_carries_the_grants`).
    fn decode(token: &str) -> serde_json::Value {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    #[test]
    fn matches_the_official_test_vector_byte_for_byte() {
        assert_eq!(mint(&key(), &request(), 1_700_000_000, DEFAULT_MAX_TTL_SECONDS).unwrap(), VECTOR);
    }

    #[test]
    fn verifies_with_the_secret_and_carries_the_grants() {
        let token =
            mint(&key(), &TokenRequest { video_room: None, ..request() }, 1_700_000_000, DEFAULT_MAX_TTL_SECONDS)
                .unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &jsonwebtoken::DecodingKey::from_secret(b"test-api-key-secret-0123456789abcdef"),
            &validation,
        )
        .unwrap();
        assert_eq!(data.header.cty.as_deref(), Some("twilio-fpa;v=1"));
        assert!(data.claims.get("iat").is_none(), "Twilio tokens carry no iat");
        assert!(data.claims["grants"].get("video").is_none());
        assert_eq!(data.claims["grants"]["chat"]["service_sid"], "IS22222222222222222222222222222222");
        assert!(jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &jsonwebtoken::DecodingKey::from_secret(b"another secret"),
            &validation
        )
        .is_err());
    }

    #[test]
    fn a_region_adds_twr_to_the_header() {
        let token =
            mint(&TokenKey { region: Some("ie1"), ..key() }, &request(), 1_700_000_000, DEFAULT_MAX_TTL_SECONDS)
                .unwrap();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(header).unwrap(),
            r#"{"alg":"HS256","cty":"twilio-fpa;v=1","twr":"ie1","typ":"JWT"}"#
        );
    }

    #[test]
    fn lifetimes_are_capped_and_never_exceed_a_day() {
        let long = TokenRequest { ttl_seconds: 5 * 3600, ..request() };
        assert_eq!(mint(&key(), &long, 0, DEFAULT_MAX_TTL_SECONDS).unwrap_err().field(), Some("ttl"));
        assert!(mint(&key(), &long, 0, 6 * 3600).is_ok());
        let later = TokenMinter::new(&key(), DEFAULT_MAX_TTL_SECONDS);
        let token = later.mint_not_before(&request(), 1_700_000_000, 1_700_001_800).unwrap();
        let claims = decode(&token);
        assert_eq!((claims["nbf"].as_i64(), claims["exp"].as_i64()), (Some(1_700_001_800), Some(1_700_003_600)));
        assert_eq!(claims["jti"], "SK11111111111111111111111111111111-1700000000", "jti from the minting time");
        assert!(later.mint_not_before(&request(), 1_700_000_000, 1_700_003_600).is_err(), "valid from its expiry");
        assert!(later.mint_not_before(&request(), 1_700_000_000, 1_699_999_999).is_err(), "valid before it was made");
        let day_and_a_bit = TokenRequest { ttl_seconds: TWILIO_MAX_TTL_SECONDS + 1, ..request() };
        assert!(mint(&key(), &day_and_a_bit, 0, u32::MAX).is_err(), "a configured ceiling above 24 h is still capped");
        assert!(mint(&key(), &TokenRequest { ttl_seconds: 0, ..request() }, 0, DEFAULT_MAX_TTL_SECONDS).is_err());
    }

    #[test]
    fn identities_must_be_opaque() {
        for bad in ["", "ada@clinic.org", "Ada Lovelace", "a/b"] {
            assert!(
                mint(&key(), &TokenRequest { identity: bad.into(), ..request() }, 0, DEFAULT_MAX_TTL_SECONDS).is_err(),
                "{bad:?}"
            );
        }
    }
}
