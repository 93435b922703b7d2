//! The clinic's settings on the server (the same keys as a desk's `settings` table).

use crate::error::{Result, ServerError};
use chrono_tz::Tz;
use tokio_postgres::GenericClient;

/// The desk's keys: settings travel to desks unchanged.
pub use clinicdesk_core::settings::{KEY_COUNTRY as COUNTRY, KEY_NAME as CLINIC_NAME, KEY_TIME_ZONE as TIME_ZONE};

pub async fn get(db: &impl GenericClient, key: &str) -> Result<Option<String>> {
    Ok(db.query_opt("SELECT value FROM settings WHERE key = $1", &[&key]).await?.map(|r| r.get(0)))
}

/// Sets a clinic setting; desks receive it through the feed.
pub async fn set(db: &impl GenericClient, key: &str, value: &str) -> Result<()> {
    db.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[&key, &value],
    )
    .await?;
    crate::changes::record(
        db,
        "setting",
        uuid::Uuid::nil(),
        "all",
        Some(serde_json::json!({ "key": key, "value": value })),
    )
    .await
}

/// The clinic's IANA time zone, in which staff type and read every time.
pub async fn time_zone(db: &impl GenericClient) -> Result<Tz> {
    let zone = get(db, TIME_ZONE).await?.ok_or_else(|| {
        ServerError::Setup("The clinic server has not been set up yet: run `clinicdesk-server init`.".into())
    })?;
    zone.parse()
        .map_err(|_| ServerError::Setup(format!("The clinic's time zone setting ({zone}) is not a known zone.")))
}

/// The country phone numbers are read in when typed without +country code.
pub async fn country(db: &impl GenericClient) -> Result<String> {
    get(db, COUNTRY).await?.ok_or_else(|| {
        ServerError::Setup("The clinic server has not been set up yet: run `clinicdesk-server init`.".into())
    })
}
