// A guard before a chat message goes out: does it look like it carries an identifier (a phone number,
// a date of birth, an ID number)? A warning, not a block: the doctor may mean it. Errs on the side of
// asking; it ignores times ("10:30"), short counts ("2 tablets", "500 mg") and years on their own.

export type IdentifierKind = 'phone' | 'date' | 'id';

export interface IdentifierHint {
  kind: IdentifierKind;
  /** The text that matched, as written. */
  match: string;
}

// A date written with separators, day-month or month-day first, or year first: 03/04/1985, 3.4.85, 1985-04-03.
const DATE = /\b(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}-\d{1,2}-\d{1,2})\b/g;
// "born 3 April 1985", "DOB: 12 Mar 1990", "April 3, 1985".
const MONTHS = '(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*';
const WORDY_DATE = new RegExp(`\\b(?:\\d{1,2}(?:st|nd|rd|th)?\\s+${MONTHS}\\.?,?\\s+\\d{4}|${MONTHS}\\.?\\s+\\d{1,2}(?:st|nd|rd|th)?,?\\s+\\d{4})\\b`, 'gi');
// Digit runs that may be broken by spaces, dots, dashes or brackets, optionally after a +.
const DIGIT_RUN = /\+?\(?\d[\d\s().-]{5,}\d/g;

function digitsOf(text: string): string {
  return text.replace(/\D/g, '');
}

// The year a written date names (two-digit years count as 19xx/20xx, whichever is not in the future).
function yearOf(date: string, thisYear: number): number | null {
  const four = date.match(/\d{4}/);
  if (four) return Number(four[0]);
  const two = date.match(/(\d{2})$/);
  if (!two) return null;
  const y = 2000 + Number(two[1]);
  return y > thisYear ? y - 100 : y;
}

/**
 * What in `text` looks like an identifier; empty when nothing does. A date counts only when it lies in an
 * earlier year than `today`'s (a date of birth), so "your next visit is 12/05/2026" passes.
 */
export function identifierHints(text: string, today: Date = new Date()): IdentifierHint[] {
  const thisYear = today.getFullYear();
  const hints: IdentifierHint[] = [];
  const taken: [number, number][] = [];
  const overlaps = (start: number, end: number) => taken.some(([s, e]) => start < e && end > s);

  for (const re of [DATE, WORDY_DATE]) {
    for (const m of text.matchAll(re)) {
      taken.push([m.index, m.index + m[0].length]);
      const year = yearOf(m[0], thisYear);
      if (year !== null && year < thisYear) hints.push({ kind: 'date', match: m[0] });
    }
  }
  for (const m of text.matchAll(DIGIT_RUN)) {
    const run = m[0].replace(/[\s(.-]+$/, '');
    if (overlaps(m.index, m.index + run.length)) continue;
    const digits = digitsOf(run);
    const grouped = /[\s().-]/.test(run.replace(/^\+/, ''));
    if (run.startsWith('+') && digits.length >= 8 && digits.length <= 15) hints.push({ kind: 'phone', match: run });
    else if (digits.length >= 9 && digits.length <= 12 && (grouped || /^0/.test(digits))) hints.push({ kind: 'phone', match: run });
    else if (digits.length >= 7) hints.push({ kind: 'id', match: run });
  }
  // Letters-and-digits ID numbers (passport, insurance, NHS-like with a prefix): AB123456C, X1234567.
  for (const m of text.matchAll(/\b[A-Z]{1,3}\d{6,}[A-Z]?\b/g)) {
    if (!overlaps(m.index, m.index + m[0].length)) hints.push({ kind: 'id', match: m[0] });
  }
  return hints;
}

/** True when the message looks like it contains a phone number, a date of birth or an ID number. */
export function looksIdentifying(text: string, today: Date = new Date()): boolean {
  return identifierHints(text, today).length > 0;
}

const WORDS: Record<IdentifierKind, string> = { phone: 'a phone number', date: 'a date (of birth?)', id: 'an ID number' };

/** "This message looks like it contains a phone number and a date (of birth?)." */
export function identifierWarning(hints: IdentifierHint[]): string {
  const kinds = [...new Set(hints.map((h) => h.kind))].map((k) => WORDS[k]);
  const list = kinds.length > 1 ? `${kinds.slice(0, -1).join(', ')} and ${kinds.at(-1)}` : kinds[0];
  return `This message looks like it contains ${list}. Chat is not the place for identifiers unless the patient needs them.`;
}
