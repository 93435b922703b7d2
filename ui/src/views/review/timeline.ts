// A consultation's record in words: the same sentences as the core's `describe.rs` (the CLI's
// `consultation show` and the PDF export), so the screen, the printout and the files agree.
import type { Attachment } from '$lib/platform/bindings/Attachment';
import type { AttachmentState } from '$lib/platform/bindings/AttachmentState';
import type { Attendance } from '$lib/platform/bindings/Attendance';
import type { ConsultationState } from '$lib/platform/bindings/ConsultationState';
import type { DeviceCheck } from '$lib/platform/bindings/DeviceCheck';
import type { NoteVersion } from '$lib/platform/bindings/NoteVersion';
import type { ParticipantRole } from '$lib/platform/bindings/ParticipantRole';
import type { TimelineEntry } from '$lib/platform/bindings/TimelineEntry';

/** "The doctor", "The patient", "Someone else". */
export function who(role: ParticipantRole): string {
  return role === 'doctor' ? 'The doctor' : role === 'patient' ? 'The patient' : 'Someone else';
}

const TEXT_NAME: Record<string, string> = {
  confirmation: 'Confirmation text',
  cancellation: 'Cancellation text',
  reschedule: 'New-time text',
  reminder: 'Reminder text',
  invite: 'Video link text',
  custom: 'Text from the clinic',
};

/** "Video link text"; a kind the screen does not know is shown as the core wrote it. */
export function textName(kind: string): string {
  return TEXT_NAME[kind] ?? kind;
}

const DEVICE_CHECK: Record<DeviceCheck, string> = {
  passed: 'camera and microphone worked',
  camera_off: 'joining without a camera',
  failed: 'the device check found a problem',
  unknown: 'no device check reported',
};

/** "12 min 5 s", "17 min", "45 s", "3 h 2 min". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return s % 60 === 0 ? `${s / 60} min` : `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${s} s`;
}

/** How long between two instants, in words ("" when it has not ended). */
export function lengthOf(startedAt: string | null, endedAt: string | null): string {
  if (!startedAt || !endedAt) return '';
  return duration((new Date(endedAt).getTime() - new Date(startedAt).getTime()) / 1000);
}

const by = (name: string | null) => (name ? ` by ${name}` : '');

const ATTACHMENT_STATE: Record<AttachmentState, string> = {
  kept: 'kept',
  waiting: 'not fetched yet',
  too_large: 'not kept: larger than 10 MB',
  unavailable: 'not kept: Twilio no longer has it or would not give it',
  over_limit: 'not kept: this consultation already keeps 20 files or 50 MB',
};

/** Whether an attachment's file is here, in words ("not fetched yet"). */
export function attachmentState(state: AttachmentState): string {
  return ATTACHMENT_STATE[state];
}

/** A file's size as people say it: "1.2 MB", "48 KB", "900 bytes". */
export function fileSize(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.floor(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

/** What a chat message said, with its attachments named (and whether each file is kept here). */
export function messageText(body: string | null, media: Pick<Attachment, 'filename' | 'state'>[]): string {
  const parts = body ? [body] : [];
  for (const m of media) {
    const name = m.filename ?? 'file';
    parts.push(m.state === 'kept' ? `[attachment: ${name}]` : `[attachment: ${name}, ${attachmentState(m.state)}]`);
  }
  return parts.join(' ');
}

/** One timeline entry in words, as the core words it. */
export function describe(entry: TimelineEntry): string {
  switch (entry.kind) {
    case 'text': {
      const fate = entry.error ? `${entry.state}: ${entry.error}` : entry.state;
      return `${textName(entry.text_kind)} (${fate}): "${entry.body}"`;
    }
    case 'waiting':
      return `The patient was waiting (${DEVICE_CHECK[entry.device_check] ?? DEVICE_CHECK.unknown})`;
    case 'started':
      return `Consultation started${by(entry.by)}`;
    case 'joined':
      return `${who(entry.role)} joined`;
    case 'left':
      return entry.seconds === null ? `${who(entry.role)} left` : `${who(entry.role)} left after ${duration(entry.seconds)}`;
    case 'message':
      return `${who(entry.author)}: ${messageText(entry.body, entry.media)}`;
    case 'recording_consent':
      return `The patient agreed to recording (recorded${by(entry.by)})`;
    case 'recording':
      return `Recording switched ${entry.on ? 'on' : 'off'}${by(entry.by)}`;
    case 'ended':
      return `Consultation ended${by(entry.by)}`;
    case 'notes_amended':
      return `Notes amended (amendment ${entry.version})${by(entry.by)}`;
    case 'chat_removed':
      return "The chat was removed under the clinic's retention rule";
  }
}

/** "The doctor: 15 min 0 s, joined once". */
export function attendanceLine(a: Attendance): string {
  const times = a.connections === 1 ? 'once' : a.connections === 2 ? 'twice' : `${a.connections} times`;
  return `${who(a.role)}: ${duration(a.seconds)}, joined ${times}`;
}

/** The pill on a consultation whose end was not heard from Twilio: what is missing comes later. */
export const PENDING_PILL = 'Fetching when online';
/** Why a consultation is "Fetching when online", in the record. */
export const PENDING_WHY =
  'This consultation ended while Twilio could not be reached. Who was in the room and the chat are fetched by themselves when the network returns.';
/** The same for a list of consultations. */
export const PENDING_WHY_LIST =
  'Fetching when online: these consultations ended while Twilio could not be reached. Who was in the room and the chat are fetched by themselves when the network returns.';
/** Why a row shows a dash for its notes and chat. */
export const NOT_YOURS = 'Only its doctor and administrators can see this';

export const STATE_IN_WORDS: Record<ConsultationState, string> = {
  scheduled: 'Not started', in_progress: 'In progress', completed: 'Ended', cancelled: 'Cancelled', no_show: 'No-show',
};

type Part = 'weekday' | 'day' | 'month' | 'year' | 'hour' | 'minute' | 'second';

/** The parts of an instant on the clinic's clock. */
function parts(iso: string, timeZone: string): Record<Part, string> {
  const found = new Intl.DateTimeFormat('en-GB', {
    timeZone, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(iso));
  const get = (type: Part) => found.find((p) => p.type === type)?.value ?? '';
  return {
    weekday: get('weekday'), day: get('day'), month: get('month'), year: get('year'),
    hour: get('hour') === '24' ? '00' : get('hour'), minute: get('minute'), second: get('second'),
  };
}

/** "Mon 2 Mar 2026" on the clinic's clock. */
export function dayOf(iso: string, timeZone: string): string {
  const c = parts(iso, timeZone);
  return `${c.weekday} ${c.day} ${c.month} ${c.year}`;
}

/** "Mon 2 Mar 2026 09:05" on the clinic's clock (the core's `moment`). */
export function moment(iso: string, timeZone: string): string {
  const c = parts(iso, timeZone);
  return `${c.weekday} ${c.day} ${c.month} ${c.year} ${c.hour}:${c.minute}`;
}

/** "09:05:31" on the clinic's clock. */
export function clock(iso: string, timeZone: string): string {
  const c = parts(iso, timeZone);
  return `${c.hour}:${c.minute}:${c.second}`;
}

/** The timeline cut into the clinic's days, in the order given. */
export function byDay(entries: TimelineEntry[], timeZone: string): { day: string; entries: TimelineEntry[] }[] {
  const days: { day: string; entries: TimelineEntry[] }[] = [];
  for (const entry of entries) {
    const day = dayOf(entry.at, timeZone);
    const last = days.at(-1);
    if (last && last.day === day) last.entries.push(entry);
    else days.push({ day, entries: [entry] });
  }
  return days;
}

/** "At the end — Dr X, Mon 2 Mar 2026 09:40", "Amendment 2 — Dr X, Tue 3 Mar 2026 08:15". */
export function versionLabel(v: NoteVersion, timeZone: string): string {
  const name = v.version === 0 ? 'At the end' : `Amendment ${v.version}`;
  return `${name} — ${[v.saved_by, moment(v.saved_at, timeZone)].filter(Boolean).join(', ')}`;
}
