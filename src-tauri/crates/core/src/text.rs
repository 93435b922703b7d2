//! Free text typed by staff (names, reasons, specializations): one line, spaces collapsed, bounded,
//! no control characters. Names additionally refuse markup characters.

use crate::error::{CoreError, Field, Result};

/// `text` as one tidy line, or `message` against `field` if it is empty, too long or has control characters.
pub(crate) fn one_line(text: &str, field: Field, max_chars: usize, message: &str) -> Result<String> {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() || line.chars().count() > max_chars || line.chars().any(char::is_control) {
        return Err(CoreError::invalid(field, message));
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidies_spaces_and_refuses_empty_long_or_control_text() {
        assert_eq!(one_line("  Ada \t  Lovelace ", "name", 20, "bad").unwrap(), "Ada Lovelace");
        assert_eq!(one_line("   ", "name", 20, "bad").unwrap_err().field(), Some("name"));
        assert!(one_line(&"x".repeat(21), "name", 20, "bad").is_err());
        assert!(one_line("Ada\u{7}", "name", 20, "bad").is_err());
    }
}
