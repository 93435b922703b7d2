//! Printing results: aligned tables for people, JSON for scripts.

use clinicdesk_core::CoreError;
use serde::Serialize;

pub fn error(json: bool, err: &CoreError) {
    if json {
        eprintln!("{}", serde_json::json!({ "code": err.code(), "message": err.to_string(), "field": err.field() }));
    } else {
        eprintln!("clinicdesk: {err}");
    }
}

/// Prints `value` as JSON, or as the table/lines `human` produces.
pub fn show<T: Serialize>(json: bool, value: &T, human: impl FnOnce(&T) -> String) {
    if json {
        println!("{}", serde_json::to_string_pretty(value).expect("serialisable"));
    } else {
        let text = human(value);
        if !text.is_empty() {
            println!("{}", text.trim_end());
        }
    }
}

/// A plain text table with a header row; columns padded to their widest cell.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let padded: Vec<String> =
            cells.iter().enumerate().map(|(i, c)| format!("{c:<width$}", width = widths[i])).collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(header.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}
