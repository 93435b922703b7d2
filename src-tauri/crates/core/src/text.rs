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

/// A text as staff see it: a video link's key (the `#...` part of a link, which holds the
/// patient's token for the room) is cut off, so a screen, a record, an export or a printout never
/// carries a credential that still works; the link itself still shows. The outbox keeps the whole
/// text (a resend needs it).
pub fn without_link_keys(body: &str) -> String {
    // Words with the whitespace after each kept as it was (a line break stays a line break).
    body.split_inclusive(char::is_whitespace)
        .map(|piece| {
            let word = piece.trim_end_matches(char::is_whitespace);
            match word.find("#t=") {
                Some(at) if word.contains("://") => format!("{}#…{}", &word[..at], &piece[word.len()..]),
                _ => piece.to_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_links_key_is_cut_off_and_the_rest_of_the_text_kept() {
        let sent =
            "Hi Olivia, your video visit is at 09:00. Join: https://call.example/call.html#t=eyJhbGc.x.y&k=1 Thanks";
        assert_eq!(
            without_link_keys(sent),
            "Hi Olivia, your video visit is at 09:00. Join: https://call.example/call.html#… Thanks"
        );
        assert_eq!(without_link_keys("Reply #t= to stop"), "Reply #t= to stop", "only inside a link");
        assert_eq!(
            without_link_keys("Join:\nhttps://c.example/call.html#t=abc\nSee you\tsoon"),
            "Join:\nhttps://c.example/call.html#…\nSee you\tsoon",
            "line breaks kept, and what follows them"
        );
    }

    #[test]
    fn tidies_spaces_and_refuses_empty_long_or_control_text() {
        assert_eq!(one_line("  Ada \t  Lovelace ", "name", 20, "bad").unwrap(), "Ada Lovelace");
        assert_eq!(one_line("   ", "name", 20, "bad").unwrap_err().field(), Some("name"));
        assert!(one_line(&"x".repeat(21), "name", 20, "bad").is_err());
        assert!(one_line("Ada\u{7}", "name", 20, "bad").is_err());
    }
}
