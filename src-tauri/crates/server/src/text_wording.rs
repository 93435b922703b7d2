//! The wording of the clinic's texts on a clinic server (`clinicdesk-server templates list | set
//! KIND --body TEXT | reset KIND`), checked as on one desk (core sms/templates: the placeholders
//! each kind needs, length, characters) and audited. Kept as settings (`sms.template.<kind>`; no
//! row: the built-in wording), which the server's texts use and desks receive (their quick texts
//! and chat replies read them; a reset reaches them as an empty value, which removes theirs).

use crate::audit;
use crate::error::Result;
use crate::settings;
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::sms::templates::{check_template, TemplateName};
use tokio_postgres::GenericClient;

/// Every kind with the wording in use, and whether it is the clinic's own.
pub async fn list(db: &impl GenericClient) -> Result<Vec<(TemplateName, String, bool)>> {
    let mut out = Vec::new();
    for name in TemplateName::ALL {
        let own = settings::get(db, &name.settings_key()).await?.filter(|b| !b.is_empty());
        let body = own.clone().unwrap_or_else(|| name.default_body().to_owned());
        out.push((name, body, own.is_some()));
    }
    Ok(out)
}

/// Saves the clinic's wording for `name` (the built-in wording again counts as a reset). Run it
/// in a transaction: the wording and its trail entry go together.
pub async fn set(db: &impl GenericClient, name: TemplateName, body: &str) -> Result<String> {
    let body = check_template(name, body)?;
    let own = (body != name.default_body()).then_some(body.clone());
    store(db, name, own).await?;
    Ok(body)
}

/// Goes back to the built-in wording for `name`.
pub async fn reset(db: &impl GenericClient, name: TemplateName) -> Result<()> {
    store(db, name, None).await
}

async fn store(db: &impl GenericClient, name: TemplateName, body: Option<String>) -> Result<()> {
    let key = name.settings_key();
    let before = settings::get(db, &key).await?.filter(|b| !b.is_empty());
    if before == body {
        return Ok(());
    }
    match &body {
        Some(text) => settings::set(db, &key, text).await?,
        None => {
            db.execute("DELETE FROM settings WHERE key = $1", &[&key]).await?;
            // Desks remove theirs when they receive the empty value.
            crate::changes::record(
                db,
                "setting",
                uuid::Uuid::nil(),
                "all",
                Some(serde_json::json!({ "key": key, "value": "" })),
            )
            .await?;
        }
    }
    let detail = match &body {
        Some(text) => format!("{} now reads {text:?}", name.as_str()),
        None => format!("{} back to the built-in wording", name.as_str()),
    };
    audit::record(db, None, AuditAction::TemplateChanged, Some(("sms_template", name.as_str())), Some(&detail)).await?;
    Ok(())
}
