// Texts about appointments in reception's words: what kind of text, and where it is.
import type { TextKind } from '$lib/platform/bindings/TextKind';
import type { TextState } from '$lib/platform/bindings/TextState';

const KIND: Record<TextKind, string> = {
  confirmation: 'Confirmation', reschedule: 'Reschedule', cancellation: 'Cancellation', reminder: 'Reminder', invite: 'Video link', custom: 'Text',
};

/** "Confirmation", "Reminder (24h)". */
export function kindInWords(kind: TextKind, reminderRule: string | null = null): string {
  return kind === 'reminder' && reminderRule ? `Reminder (${reminderRule})` : KIND[kind];
}

export const STATE_IN_WORDS: Record<TextState, string> = {
  pending: 'Waiting to send', sending: 'Sending', sent: 'Sent', delivered: 'Delivered', undelivered: 'Not delivered', failed: 'Failed', skipped: 'Not sent',
};

/** The pill colour for a state (classes from app.css). */
export const STATE_TONE: Record<TextState, string> = {
  pending: '', sending: '', sent: 'brand', delivered: 'ok', undelivered: 'danger', failed: 'danger', skipped: 'warn',
};

/** States in which a text will not arrive as it stands. */
export const DID_NOT_ARRIVE: readonly TextState[] = ['undelivered', 'failed', 'skipped'];
