//! Staff passwords: argon2id hashes (PHC strings) and the rules a new password must meet.

use crate::error::{CoreError, Result};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub const MIN_LENGTH: usize = 10;
const MAX_LENGTH: usize = 256;

pub fn check_new(password: &str) -> Result<()> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(CoreError::invalid("password", format!("Use at least {MIN_LENGTH} characters for the password.")));
    }
    if length > MAX_LENGTH {
        return Err(CoreError::invalid("password", format!("Use at most {MAX_LENGTH} characters for the password.")));
    }
    if password.trim().is_empty() {
        return Err(CoreError::invalid("password", "The password cannot be only spaces."));
    }
    Ok(())
}

/// argon2id with the crate's defaults (the OWASP-recommended parameters).
pub fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|err| {
        tracing::error!(error = %err, "password hashing failed");
        CoreError::Storage
    })
}

pub fn verify(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Whether `stored_hash` is a hash this module would have stored (an argon2id PHC string): what
/// a clinic moving onto a server brings is checked with it, so no account arrives unusable or
/// with a weaker scheme.
pub fn is_stored_hash(stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash).is_ok_and(|parsed| parsed.algorithm.as_str() == "argon2id" && parsed.hash.is_some())
}

/// Spend the same effort as a real check when the email is unknown, so response time does not
/// reveal which emails have accounts.
pub fn verify_against_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not-a-real-password-0").unwrap_or_default());
    let _ = verify(password, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_argon2id_hashes_count_as_stored_ones() {
        assert!(is_stored_hash(&hash("a good password 1").unwrap()));
        for other in [
            "",
            "hunter2",
            "$2b$12$abcdefghijklmnopqrstuuJ0v1s6cEwQfiV7JyF0m5I9M3W4x1Y2z",
            "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$YWJj",
        ] {
            assert!(!is_stored_hash(other), "{other:?}");
        }
    }

    #[test]
    fn hashes_are_argon2id_and_verify_only_the_right_password() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert!(!verify("correct horse battery", "not a hash"));
    }

    #[test]
    fn short_and_blank_passwords_are_refused_with_the_field_named() {
        let err = check_new("short").unwrap_err();
        assert_eq!(err.field(), Some("password"));
        assert!(check_new("          ").is_err());
        assert!(check_new("long enough pass").is_ok());
    }
}
