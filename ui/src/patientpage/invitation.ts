// The patient's link, read in the browser: everything after '#' (which browsers never send to a
// server) written by the core's `patient_link` — `t` the patient's token, `c` the clinic, `p` its phone,
// `d` the doctor, `n` the patient's first name, `w` the appointment's start. The token's own claims
// say when it works (nbf, exp) and which room it joins; they are read, not verified (Twilio verifies).

export interface Invitation {
  token: string;
  room: string;
  clinic: string;
  clinicPhone: string;
  doctor: string;
  firstName: string;
  startsAt: Date;
  validFrom: Date;
  validUntil: Date;
}

/** Whether the link works at a moment: before its window, during it, or after. */
export type LinkTiming = 'early' | 'open' | 'over';

function claimsOf(token: string): Record<string, unknown> | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !/^[A-Za-z0-9_-]+$/.test(parts[1])) return null;
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const claims: unknown = JSON.parse(json);
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The invitation in `hash` ("#t=…&c=…"), or null when the link is incomplete or damaged. */
export function readInvitation(hash: string): Invitation | null {
  const fields = new URLSearchParams(hash.replace(/^#/, ''));
  const token = fields.get('t') ?? '';
  const claims = claimsOf(token);
  if (!claims) return null;
  const grants = (claims.grants ?? {}) as { video?: { room?: unknown } };
  const room = grants.video?.room;
  const nbf = claims.nbf;
  const exp = claims.exp;
  const startsAt = new Date(fields.get('w') ?? '');
  if (typeof room !== 'string' || typeof nbf !== 'number' || typeof exp !== 'number' || Number.isNaN(startsAt.getTime())) {
    return null;
  }
  return {
    token,
    room,
    clinic: fields.get('c') || 'Your clinic',
    clinicPhone: fields.get('p') ?? '',
    doctor: fields.get('d') || 'Your doctor',
    firstName: fields.get('n') ?? '',
    startsAt,
    validFrom: new Date(nbf * 1000),
    validUntil: new Date(exp * 1000),
  };
}

export function timing(invitation: Invitation, now: Date = new Date()): LinkTiming {
  if (now < invitation.validFrom) return 'early';
  if (now >= invitation.validUntil) return 'over';
  return 'open';
}

/** "Tuesday 3 March at 09:00", in the patient's own time zone and language. */
export function when(date: Date, locale?: string): string {
  const day = date.toLocaleDateString(locale, { weekday: 'long', day: 'numeric', month: 'long' });
  const time = date.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
  return `${day} at ${time}`;
}

/** "call Riverside Clinic on 020 7946 0000" (or without the number when the clinic gave none). */
export function callTheClinic(invitation: Invitation): string {
  return invitation.clinicPhone ? `call ${invitation.clinic} on ${invitation.clinicPhone}` : `call ${invitation.clinic}`;
}
