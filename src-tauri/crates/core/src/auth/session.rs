//! Signed session tokens (HS256, key in the keyring). A token names a `sessions` row; the row, not
//! the token, decides whether the session is still alive (sign-out, idle time, account changes).

use crate::auth::Role;
use crate::error::{CoreError, Result, SessionEnd};
use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The longest a session lives however active it is; a working day plus margin.
pub const ABSOLUTE_LIFETIME_HOURS: i64 = 12;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub sid: String,
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
}

pub(crate) fn sign(key: &[u8], claims: &Claims) -> Result<String> {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(key)).map_err(|err| {
        tracing::error!(error = %err, "cannot sign session");
        CoreError::Storage
    })
}

/// Checks signature and expiry against `now` (not the system clock, so tests control time).
pub(crate) fn verify(key: &[u8], token: &str, now: DateTime<Utc>) -> Result<Claims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false; // checked below against the clinic's clock
    validation.required_spec_claims = ["exp", "sub"].into_iter().map(String::from).collect();
    let data =
        decode::<Claims>(token, &DecodingKey::from_secret(key), &validation).map_err(|_| CoreError::NotSignedIn)?;
    if data.claims.exp <= now.timestamp() {
        return Err(CoreError::SessionEnded(SessionEnd::Expired));
    }
    Ok(data.claims)
}
