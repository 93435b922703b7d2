//! A consultation's record as a printable A4 PDF (printpdf, with DejaVu Sans embedded and
//! subset, so every name and word prints whatever its script; the fonts' licence is beside them
//! in `assets/fonts`). Plain flowing text: a heading, the notice that it holds personal health
//! information, the facts, the notes and their amendments, the timeline; page numbers at the foot.
//!
//! Lines are wrapped with the font's own advance widths, so a line never runs off the page.

use super::describe::{self, moment};
use super::model::ParticipantRole;
use super::review::ConsultationRecord;
use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use printpdf::{FontId, Mm, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, TextItem};

const REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const MARGIN: f32 = 18.0;
/// Millimetres per point.
const MM_PER_PT: f32 = 25.4 / 72.0;

struct Face {
    id: FontId,
    metrics: ttf_parser::Face<'static>,
}

impl Face {
    fn load(doc: &mut PdfDocument, bytes: &'static [u8]) -> Result<Face> {
        let unreadable = || {
            CoreError::Unavailable("The PDF could not be made: its font is unreadable. Export as JSON instead.".into())
        };
        let parsed = ParsedFont::from_bytes(bytes, 0, &mut Vec::new()).ok_or_else(unreadable)?;
        let metrics = ttf_parser::Face::parse(bytes, 0).map_err(|_| unreadable())?;
        Ok(Face { id: doc.add_font(&parsed), metrics })
    }

    /// The width of `text` at `size` points, in millimetres.
    fn width(&self, text: &str, size: f32) -> f32 {
        let em = f32::from(self.metrics.units_per_em().max(1));
        let units: f32 = text
            .chars()
            .map(|c| {
                self.metrics.glyph_index(c).and_then(|g| self.metrics.glyph_hor_advance(g)).map_or(em * 0.6, f32::from)
            })
            .sum();
        units / em * size * MM_PER_PT
    }
}

/// Pages being laid out, top to bottom.
struct Layout {
    regular: Face,
    bold: Face,
    pages: Vec<Vec<Op>>,
    /// The baseline of the next line, from the page's bottom (mm).
    y: f32,
}

impl Layout {
    fn page(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("there is always a page")
    }

    fn need(&mut self, height: f32) {
        if self.y - height < MARGIN + 8.0 {
            self.pages.push(Vec::new());
            self.y = PAGE_H - MARGIN;
        }
    }

    fn line_at(&mut self, x: f32, text: &str, size: f32, bold: bool) {
        let font = if bold { self.bold.id.clone() } else { self.regular.id.clone() };
        let y = self.y;
        self.page().extend([
            Op::StartTextSection,
            Op::SetTextCursor { pos: Point { x: Mm(x).into(), y: Mm(y).into() } },
            Op::SetFont { font: PdfFontHandle::External(font), size: Pt(size) },
            Op::ShowText { items: vec![TextItem::Text(text.to_owned())] },
            Op::EndTextSection,
        ]);
    }

    /// Writes `text` wrapped to the width left of `indent`, paragraphs kept.
    fn paragraph(&mut self, indent: f32, text: &str, size: f32, bold: bool) {
        let width = PAGE_W - 2.0 * MARGIN - indent;
        let leading = size * MM_PER_PT * 1.35;
        for paragraph in text.split('\n') {
            for line in self.wrap(paragraph, width, size, bold) {
                self.need(leading);
                self.y -= leading;
                self.line_at(MARGIN + indent, &line, size, bold);
            }
        }
    }

    fn wrap(&self, text: &str, width: f32, size: f32, bold: bool) -> Vec<String> {
        let face = if bold { &self.bold } else { &self.regular };
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split(' ') {
            let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
            if face.width(&candidate, size) <= width || line.is_empty() && face.width(word, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A word longer than the line (a link, a number): cut it where it must be cut.
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if face.width(&piece, size) > width {
                    piece.pop();
                    lines.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            line = piece;
        }
        lines.push(line);
        lines
    }

    fn gap(&mut self, mm: f32) {
        self.y -= mm;
    }

    fn heading(&mut self, text: &str) {
        self.need(14.0);
        self.gap(4.0);
        self.paragraph(0.0, text, 12.0, true);
        self.gap(1.0);
    }

    /// "Label: value" rows.
    fn fact(&mut self, label: &str, value: &str) {
        let leading = 10.0 * MM_PER_PT * 1.35;
        self.need(leading);
        self.y -= leading;
        self.line_at(MARGIN, label, 10.0, true);
        self.y += leading;
        self.paragraph(38.0, value, 10.0, false);
    }
}

fn role_name(role: ParticipantRole) -> &'static str {
    match role {
        ParticipantRole::Doctor => "Doctor",
        ParticipantRole::Patient => "Patient",
        ParticipantRole::Other => "Someone else",
    }
}

/// The record as PDF bytes.
pub(super) fn render(
    record: &ConsultationRecord,
    clinic: &str,
    time_zone: &str,
    now: DateTime<Utc>,
) -> Result<Vec<u8>> {
    let tz: Tz = time_zone.parse().unwrap_or(Tz::UTC);
    let mut doc = PdfDocument::new(&format!("Consultation record {}", record.booking_ref));
    let regular = Face::load(&mut doc, REGULAR)?;
    let bold = Face::load(&mut doc, BOLD)?;
    let mut l = Layout { regular, bold, pages: vec![Vec::new()], y: PAGE_H - MARGIN };

    l.paragraph(0.0, "Consultation record", 18.0, true);
    l.paragraph(0.0, clinic, 11.0, false);
    l.gap(2.0);
    l.paragraph(0.0, super::export::PHI_NOTICE, 8.5, true);
    l.gap(2.0);

    l.fact("Patient", &record.patient_name);
    l.fact("Doctor", &record.doctor_name);
    l.fact("Booked for", &format!("{} ({})", moment(record.starts_at, tz), time_zone));
    l.fact("Booking ref", &record.booking_ref);
    l.fact("State", describe::state_name(record.state));
    if let Some(at) = record.started_at {
        l.fact("Started", &moment(at, tz));
    }
    if let Some(at) = record.ended_at {
        l.fact("Ended", &moment(at, tz));
    }
    l.fact("Exported", &moment(now, tz));
    if record.record_pending {
        l.fact(
            "Note",
            "Who was in the room and the chat are still to be fetched from Twilio (the consultation ended offline).",
        );
    }
    if !record.full {
        l.fact("Note", "This copy holds what the exporter may see: that the consultation happened, and its texts.");
    }
    if !record.attendance.is_empty() {
        l.heading("Who was in the room");
        for a in &record.attendance {
            let times = if a.connections == 1 { "once".to_owned() } else { format!("{} times", a.connections) };
            l.fact(role_name(a.role), &format!("{} (joined {times})", describe::duration(a.seconds)));
        }
    }
    if let Some(notes) = &record.notes {
        l.heading("Notes");
        l.paragraph(0.0, if notes.is_empty() { "(none written)" } else { notes }, 10.0, false);
        if record.note_versions.len() > 1 {
            l.heading("Notes history");
            for v in &record.note_versions {
                let who = v.saved_by.as_deref().unwrap_or("unknown");
                let title = if v.version == 0 {
                    format!("At the end ({}, {who})", moment(v.saved_at, tz))
                } else {
                    format!("Amendment {} ({}, {who})", v.version, moment(v.saved_at, tz))
                };
                l.paragraph(0.0, &title, 10.0, true);
                l.paragraph(4.0, &v.text, 9.5, false);
                l.gap(1.5);
            }
        }
    }
    l.heading("Timeline");
    if record.timeline.is_empty() {
        l.paragraph(0.0, "Nothing happened yet.", 10.0, false);
    }
    let mut day = String::new();
    for entry in &record.timeline {
        let date = entry.at().with_timezone(&tz).format("%a %-d %b %Y").to_string();
        if date != day {
            l.gap(1.0);
            l.paragraph(0.0, &date, 9.5, true);
            day = date;
        }
        let (time, text) = describe::timeline_line(entry, tz);
        let leading = 9.5 * MM_PER_PT * 1.35;
        l.need(leading);
        l.y -= leading;
        l.line_at(MARGIN, &time, 9.5, false);
        l.y += leading;
        l.paragraph(18.0, &text, 9.5, false);
    }

    let count = l.pages.len();
    let title = format!("{} · {} · {}", record.patient_name, record.booking_ref, moment(record.starts_at, tz));
    let pages = l
        .pages
        .into_iter()
        .enumerate()
        .map(|(i, mut ops)| {
            let foot = format!("{title} · page {} of {count}", i + 1);
            ops.extend([
                Op::StartTextSection,
                Op::SetTextCursor { pos: Point { x: Mm(MARGIN).into(), y: Mm(MARGIN - 6.0).into() } },
                Op::SetFont { font: PdfFontHandle::External(l.regular.id.clone()), size: Pt(8.0) },
                Op::ShowText { items: vec![TextItem::Text(foot)] },
                Op::EndTextSection,
            ]);
            PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), ops)
        })
        .collect();
    let options = PdfSaveOptions { subset_fonts: true, ..PdfSaveOptions::default() };
    Ok(doc.with_pages(pages).save(&options, &mut Vec::new()))
}
