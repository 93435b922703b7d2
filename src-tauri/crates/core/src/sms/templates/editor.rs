//! Reading and changing the templates: every signed-in member of staff may read them (reception
//! picks quick texts), only admins change them, and every change is audited with the new wording.

use super::catalog::TemplateName;
use super::placeholders::{self, Placeholder};
use super::preview::{self, Sample, TemplatePreview};
use super::{stored_body, TemplateData};
use crate::audit::{self, Actor, AuditAction};
use crate::auth::{Caller, Permission};
use crate::error::Result;
use crate::sms::{outbox, smart_encoding};
use crate::{settings, Clinic};
use chrono::{Days, NaiveTime, TimeZone};
use rusqlite::TransactionBehavior;
use serde::Serialize;
use ts_rs::TS;

pub struct Templates<'a> {
    pub(crate) clinic: &'a Clinic,
}

/// A placeholder a template may use, as the editor offers it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct PlaceholderInfo {
    pub placeholder: Placeholder,
    /// "{first_name}", as typed into the template.
    pub token: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Template {
    pub name: TemplateName,
    pub label: String,
    /// When the text is sent.
    pub purpose: String,
    pub is_quick_text: bool,
    /// Offered in a video consultation's chat, not sent as a text (no segments or cost).
    pub is_chat_reply: bool,
    /// The wording in use: the clinic's own, or the default.
    pub body: String,
    /// True while the clinic uses the built-in wording.
    pub is_default: bool,
    pub default_body: String,
    /// The placeholders this template may use (others are refused).
    pub placeholders: Vec<PlaceholderInfo>,
}

fn template(name: TemplateName, stored: Option<String>) -> Template {
    Template {
        name,
        label: name.label().to_owned(),
        purpose: name.purpose().to_owned(),
        is_quick_text: name.is_quick_text(),
        is_chat_reply: name.is_chat_reply(),
        is_default: stored.is_none(),
        body: stored.unwrap_or_else(|| name.default_body().to_owned()),
        default_body: name.default_body().to_owned(),
        placeholders: name
            .placeholders()
            .iter()
            .map(|p| PlaceholderInfo { placeholder: *p, token: p.token(), description: p.describe().to_owned() })
            .collect(),
    }
}

impl Templates<'_> {
    /// Every template, in a fixed order (appointment texts first, then the quick texts).
    pub fn list(&self, _caller: &Caller) -> Result<Vec<Template>> {
        let conn = self.clinic.db().conn()?;
        TemplateName::ALL.into_iter().map(|name| Ok(template(name, stored_body(&conn, name)?))).collect()
    }

    pub fn get(&self, _caller: &Caller, name: TemplateName) -> Result<Template> {
        let conn = self.clinic.db().conn()?;
        Ok(template(name, stored_body(&conn, name)?))
    }

    /// Saves the clinic's wording for `name` (admins). Pasted text is normalised first (line ends,
    /// tabs, odd spaces); look-alike punctuation is kept as typed: replacing it is offered by the
    /// preview, not imposed. Saving the default wording is the same as [`Templates::reset`], so a
    /// later version's improved default reaches clinics that never changed it.
    pub fn set(&self, caller: &Caller, name: TemplateName, body: &str) -> Result<Template> {
        caller.require(Permission::ManageSettings)?;
        crate::sync::pending::refuse_on_desk(
            &*self.clinic.db().conn()?,
            crate::sync::pending::ServerKeeps::TextWording,
        )?;
        let body = checked(name, body)?;
        let own = (body != name.default_body()).then_some(body);
        self.store(caller, name, own)
    }

    /// Goes back to the built-in wording for `name` (admins).
    pub fn reset(&self, caller: &Caller, name: TemplateName) -> Result<Template> {
        caller.require(Permission::ManageSettings)?;
        crate::sync::pending::refuse_on_desk(
            &*self.clinic.db().conn()?,
            crate::sync::pending::ServerKeeps::TextWording,
        )?;
        self.store(caller, name, None)
    }

    fn store(&self, caller: &Caller, name: TemplateName, body: Option<String>) -> Result<Template> {
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before = stored_body(&tx, name)?;
        if before != body {
            settings::write(&tx, &name.settings_key(), body.as_deref(), now)?;
            let detail = match &body {
                Some(text) => format!("{} now reads {text:?}", name.as_str()),
                None => format!("{} back to the built-in wording", name.as_str()),
            };
            let record = Some(("sms_template", name.as_str()));
            audit::record(&tx, now, Actor::Staff(caller), AuditAction::TemplateChanged, record, Some(&detail))?;
        }
        tx.commit()?;
        Ok(template(name, body))
    }

    /// The preview of `draft` (the editor's unsaved text) or, without one, of the template in use:
    /// the exact text with sample data, its segments, encoding and cost. A draft with a mistake
    /// is refused with the same message saving would give, so the editor shows it as you type.
    pub fn preview(&self, caller: &Caller, name: TemplateName, draft: Option<&str>) -> Result<TemplatePreview> {
        let body = match draft {
            Some(draft) => checked(name, draft)?,
            None => self.get(caller, name)?.body,
        };
        let parts = placeholders::parse(&body, name)?;
        let sample = self.sample()?;
        Ok(preview::build(name, body.clone(), &parts, &sample))
    }

    /// A sample appointment tomorrow at 14:30 in the clinic's zone, with its own name and phone.
    fn sample(&self) -> Result<Sample> {
        let clinic = self.clinic.settings().current()?;
        let texting = self.clinic.texting_settings()?;
        let tz = settings::parse_time_zone(&clinic.time_zone)?;
        let now = self.clinic.now();
        let tomorrow = now.with_timezone(&tz).date_naive() + Days::new(1);
        let at = tomorrow.and_time(NaiveTime::from_hms_opt(14, 30, 0).expect("a valid time"));
        let instant = tz.from_local_datetime(&at).earliest().map(|t| t.to_utc()).unwrap_or(now);
        let (date, time) = super::format_when(instant, tz, &clinic.default_country);
        Ok(Sample {
            data: TemplateData {
                patient_first_name: preview::SAMPLE_FIRST_NAME.into(),
                clinic_name: clinic.clinic_name,
                clinic_phone: texting.clinic_phone,
                doctor_name: preview::SAMPLE_DOCTOR.into(),
                date,
                time,
                booking_ref: preview::SAMPLE_BOOKING_REF.into(),
                video_link: Some(preview::SAMPLE_VIDEO_LINK.into()),
            },
            price_per_segment: texting.price_per_segment,
        })
    }
}

/// `body` normalised and checked as a template for `name`: ready to store (a clinic server checks
/// its wording the same way).
pub fn checked(name: TemplateName, body: &str) -> Result<String> {
    let body = smart_encoding::normalise(body);
    outbox::check_body(&body)?;
    placeholders::parse(&body, name)?;
    Ok(body)
}
