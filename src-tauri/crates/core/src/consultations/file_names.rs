//! Names for files that came from outside (a patient's chat attachment) before they are shown or
//! created on the clinic's computer. The patient chooses the name; it must not choose a folder, a
//! device, a misleading extension (a right-to-left override turning "gpj.exe" around), or a name
//! too long for the disk.

/// What a saved attachment may end with; anything else gets ".bin" added, so no file a patient
/// sends opens as a program or a macro document with a double-click.
const SAFE_EXTENSIONS: [&str; 9] = ["jpg", "jpeg", "png", "gif", "webp", "heic", "heif", "pdf", "txt"];
/// Bytes, not characters: disks allow 255 bytes per name; this leaves room for " (12)".
const MAX_NAME_BYTES: usize = 200;
/// Names Windows reserves for devices, whatever follows the dot ("NUL.jpg" writes to nowhere).
const DEVICE_NAMES: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "lpt1", "lpt2",
    "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Characters that change how text around them is shown without being seen themselves.
fn invisible(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// A name that is safe to show and to create: the last path part, no control, invisible or
/// reserved characters, no leading or trailing dots or spaces, not a Windows device name, an
/// extension from [`SAFE_EXTENSIONS`] (else ".bin" added), at most [`MAX_NAME_BYTES`];
/// `fallback` when nothing is left.
pub fn safe_filename(name: Option<&str>, fallback: &str) -> String {
    let last = name.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !invisible(*c))
        .map(|c| if c.is_control() || "<>:\"|?*".contains(c) { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    if cleaned.is_empty() {
        return if fallback.is_empty() { "attachment.bin".into() } else { safe_filename(Some(fallback), "") };
    }
    let (stem, extension) = match cleaned.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && SAFE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()) => {
            (stem.to_owned(), format!(".{ext}"))
        }
        _ => (cleaned.to_owned(), ".bin".to_owned()),
    };
    let mut stem = stem;
    while stem.len() + extension.len() > MAX_NAME_BYTES {
        stem.pop();
    }
    let mut stem = stem.trim_end_matches(|c: char| c == '.' || c.is_whitespace()).to_owned();
    let device = stem.split('.').next().unwrap_or("").trim_end().to_ascii_lowercase();
    if DEVICE_NAMES.contains(&device.as_str()) || stem.is_empty() {
        stem.insert(0, '_');
    }
    format!("{stem}{extension}")
}

#[cfg(test)]
mod tests {
    use super::safe_filename;

    #[test]
    fn a_patients_file_gets_a_plain_safe_name() {
        let safe = |name: &str| safe_filename(Some(name), "attachment-ME1");
        assert_eq!(safe("scan.pdf"), "scan.pdf");
        assert_eq!(safe("Rash Photo.JPG"), "Rash Photo.JPG");
        assert_eq!(safe("../../etc/passwd"), "passwd.bin", "no folders, and not a known kind");
        assert_eq!(safe("C:\\Users\\a\\rash photo.jpg"), "rash photo.jpg");
        assert_eq!(safe(".bashrc"), "bashrc.bin");
        assert_eq!(safe("a\u{7}b|c?.png"), "a_b_c_.png");
        assert_eq!(safe("rash\u{202E}gpj.exe"), "rashgpj.exe.bin", "no right-to-left override");
        assert_eq!(safe("report.docm"), "report.docm.bin");
        assert_eq!(safe("NUL.jpg"), "_NUL.jpg");
        assert_eq!(safe("com1.pdf"), "_com1.pdf");
        assert_eq!(safe("console.pdf"), "console.pdf");
        assert_eq!(safe("photo. . .png"), "photo.png");
        assert_eq!(safe("trailing. "), "trailing.bin");
        assert_eq!(safe(".."), "attachment-ME1.bin");
        assert_eq!(safe_filename(None, "attachment-ME1"), "attachment-ME1.bin");
        assert_eq!(safe("line\nbreak.png"), "line_break.png");
        let long = safe(&format!("{}.png", "é".repeat(300)));
        assert!(long.len() <= 200 && long.ends_with("é.png"), "{} bytes", long.len());
    }
}
