import { describe, expect, it } from 'vitest';
import { callTheClinic, readInvitation, timing } from '../invitation';

const b64 = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
const token = (claims: Record<string, unknown>) => `${b64({ alg: 'HS256' })}.${b64(claims)}.c2lnbmF0dXJl`;
const claims = { grants: { identity: 'p-1', video: { room: 'cd-abc' } }, nbf: 1_900_000_000, exp: 1_900_004_500 };
const link = (fields: Record<string, string>) => '#' + new URLSearchParams(fields).toString();

describe("the patient's link", () => {
  it('reads the greeting and the token window from the fragment', () => {
    const invitation = readInvitation(link({ t: token(claims), c: 'Riverside Clinic', p: '020 7946 0000', d: 'Dr Amara Okafor', n: 'Olivia', w: '2030-03-15T09:00:00Z' }))!;
    expect(invitation.room).toBe('cd-abc');
    expect(invitation.clinic).toBe('Riverside Clinic');
    expect(invitation.firstName).toBe('Olivia');
    expect(invitation.startsAt.toISOString()).toBe('2030-03-15T09:00:00.000Z');
    expect(invitation.validFrom.getTime()).toBe(1_900_000_000_000);
    expect(callTheClinic(invitation)).toBe('call Riverside Clinic on 020 7946 0000');
    expect(timing(invitation, new Date(1_899_999_999_000))).toBe('early');
    expect(timing(invitation, new Date(1_900_000_000_000))).toBe('open');
    expect(timing(invitation, new Date(1_900_004_500_000))).toBe('over');
  });

  it('refuses a damaged or incomplete link rather than guessing', () => {
    const good = { t: token(claims), w: '2030-03-15T09:00:00Z' };
    expect(readInvitation(link(good))).not.toBeNull();
    expect(readInvitation('')).toBeNull();
    expect(readInvitation(link({ ...good, t: 'not-a-token' }))).toBeNull();
    expect(readInvitation(link({ ...good, t: token({ ...claims, grants: { identity: 'p-1' } }) }))).toBeNull();
    expect(readInvitation(link({ ...good, t: token({ ...claims, exp: 'soon' }) }))).toBeNull();
    expect(readInvitation(link({ ...good, w: 'tomorrow' }))).toBeNull();
    expect(readInvitation(link({ ...good, t: `${good.t.split('.')[0]}.%%%.sig` }))).toBeNull();
  });
});
