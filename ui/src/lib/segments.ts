// What a text will cost while it is being typed: the same count as the core's sms/segments.rs
// (which decides, and stores the count with the text). GSM-7: 160 septets in one segment, 153 per
// part of a longer text, the extension characters cost two; any other character makes the whole text
// UCS-2: 70 UTF-16 units in one segment, 67 per part. A two-unit character is never split.
import type { SegmentCount } from '$lib/platform/bindings/SegmentCount';

const GSM7_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION = '^{}\\[~]|€\u000C';

function gsm7Cost(c: string): number | null {
  if (GSM7_BASIC.includes(c)) return 1;
  if (GSM7_EXTENSION.includes(c)) return 2;
  return null;
}

function pack(costs: number[], single: number, perPart: number): { segments: number; units: number } {
  const units = costs.reduce((sum, cost) => sum + cost, 0);
  if (units === 0) return { segments: 0, units: 0 };
  if (units <= single) return { segments: 1, units };
  let segments = 1;
  let used = 0;
  for (const cost of costs) {
    if (used + cost > perPart) {
      segments += 1;
      used = 0;
    }
    used += cost;
  }
  return { segments, units };
}

/** Segments and encoding of `body`, as the core will count them. */
export function countSegments(body: string): SegmentCount {
  const chars = Array.from(body); // code points, as Rust's chars()
  const gsm = chars.map(gsm7Cost);
  if (gsm.every((cost) => cost !== null)) return { encoding: 'gsm7', ...pack(gsm as number[], 160, 153) };
  return { encoding: 'ucs2', ...pack(chars.map((c) => c.length), 70, 67) };
}

/** The characters that make a text UCS-2, each once, in the order they first appear. */
export function nonGsmCharacters(body: string): string[] {
  return [...new Set(Array.from(body).filter((c) => gsm7Cost(c) === null))];
}
