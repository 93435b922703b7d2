//! `clinicdesk templates`: the wording of the clinic's texts.

use crate::args::TemplatesCommand;
use crate::output::{show, table};
use clinicdesk_core::auth::Caller;
use clinicdesk_core::sms::segments::Encoding;
use clinicdesk_core::sms::smart_encoding;
use clinicdesk_core::sms::templates::{TemplateName, TemplatePreview};
use clinicdesk_core::{Clinic, Result};

pub(super) fn templates(clinic: &Clinic, caller: &Caller, json: bool, command: TemplatesCommand) -> Result<()> {
    let templates = clinic.templates();
    match command {
        TemplatesCommand::List => {
            let list = templates.list(caller)?;
            show(json, &list, |list| {
                let rows = list
                    .iter()
                    .map(|t| {
                        let source = if t.is_default { "default" } else { "changed" };
                        vec![t.name.as_str().to_owned(), source.to_owned(), one_line(&t.body)]
                    })
                    .collect();
                table(&["KIND", "WORDING", "TEXT"], rows)
            });
        }
        TemplatesCommand::Set { kind, body, replace_look_alikes } => {
            let name = TemplateName::parse(&kind)?;
            let body = if replace_look_alikes { smart_encoding::replace_look_alikes(&body) } else { body };
            let saved = templates.set(caller, name, &body)?;
            let preview = templates.preview(caller, name, None)?;
            show(json, &saved, |t| format!("The {} template is saved.\n\n{}", t.name.as_str(), describe(&preview)));
        }
        TemplatesCommand::Reset { kind } => {
            let name = TemplateName::parse(&kind)?;
            let reset = templates.reset(caller, name)?;
            show(json, &reset, |t| {
                format!("The {} template is back to the built-in wording:\n{}", t.name.as_str(), t.body)
            });
        }
        TemplatesCommand::Preview { kind, body } => {
            let name = TemplateName::parse(&kind)?;
            let preview = templates.preview(caller, name, body.as_deref())?;
            show(json, &preview, describe);
        }
    }
    Ok(())
}

/// A template's text on one line of a table.
fn one_line(text: &str) -> String {
    let flat = text.replace('\n', " / ");
    match flat.char_indices().nth(70) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// The preview as a person reads it: the text, then what it costs and why.
fn describe(p: &TemplatePreview) -> String {
    let encoding = match p.encoding {
        Encoding::Gsm7 => "GSM-7",
        Encoding::Ucs2 => "UCS-2",
    };
    let plural = if p.segments == 1 { "" } else { "s" };
    let mut lines = vec![
        p.text.clone(),
        String::new(),
        format!("{} segment{plural}, {encoding}, {} characters.", p.segments, p.characters),
    ];
    match &p.cost {
        Some(cost) => lines.push(format!("Cost: {cost} (sms.price_per_segment times {} segment{plural}).", p.segments)),
        None => lines.push("Cost: unknown until sms.price_per_segment is set.".into()),
    }
    if !p.ucs2_characters.is_empty() {
        let listed: Vec<String> = p.ucs2_characters.iter().map(|c| format!("{} ({})", c.character, c.code)).collect();
        lines.push(format!("Sent as UCS-2 (70 characters a segment) because of: {}.", listed.join(", ")));
    }
    if !p.look_alikes.is_empty() {
        let listed: Vec<String> = p.look_alikes.iter().map(|l| format!("{} -> {}", l.found, l.replacement)).collect();
        lines.push(format!("GSM-7 look-alikes: {}. Save with --replace-look-alikes to use them.", listed.join(", ")));
    }
    lines.extend(p.notes.iter().map(|n| format!("Note: {n}")));
    lines.join("\n")
}
