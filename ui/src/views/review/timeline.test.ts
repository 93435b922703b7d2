import { describe, expect, it } from 'vitest';
import type { TimelineEntry } from '$lib/platform/bindings/TimelineEntry';
import { attendanceLine, byDay, clock, describe as words, duration, fileSize, lengthOf, moment, versionLabel } from './timeline';

const at = '2026-03-02T14:05:31Z';

describe('a consultation timeline in words (the same sentences as the core)', () => {
  it('reads durations as people say them', () => {
    expect(duration(45)).toBe('45 s');
    expect(duration(600)).toBe('10 min');
    expect(duration(1020)).toBe('17 min');
    expect(duration(1020.9)).toBe('17 min');
    expect(duration(61)).toBe('1 min 1 s');
    expect(duration(60)).toBe('1 min');
    expect(duration(725)).toBe('12 min 5 s');
    expect(duration(3 * 3600 + 120)).toBe('3 h 2 min');
    expect(lengthOf('2026-03-02T09:00:00Z', '2026-03-02T09:15:30Z')).toBe('15 min 30 s');
    expect(lengthOf('2026-03-02T09:00:00Z', '2026-03-02T09:17:00Z')).toBe('17 min');
    expect(lengthOf('2026-03-02T09:00:00Z', null)).toBe('');
  });

  it('names each text by its kind and says its fate, with why it did not arrive', () => {
    const text = (text_kind: string, state: string, error: string | null = null): TimelineEntry =>
      ({ kind: 'text', at, text_id: 't1', text_kind, state, body: 'Your link: https://x', final_at: null, error });
    expect(words(text('invite', 'delivered'))).toBe('Video link text (delivered): "Your link: https://x"');
    expect(words(text('confirmation', 'sent'))).toBe('Confirmation text (sent): "Your link: https://x"');
    expect(words(text('cancellation', 'sent'))).toMatch(/^Cancellation text /);
    expect(words(text('reschedule', 'sent'))).toMatch(/^New-time text /);
    expect(words(text('reminder', 'sent'))).toMatch(/^Reminder text /);
    expect(words(text('custom', 'sent'))).toMatch(/^Text from the clinic /);
    expect(words(text('survey', 'sent'))).toMatch(/^survey \(sent\)/);
    expect(words(text('reminder', 'failed', 'The number is not a mobile.'))).toBe(
      'Reminder text (failed: The number is not a mobile.): "Your link: https://x"',
    );
  });

  it('words every other moment of the consultation', () => {
    const cases: [TimelineEntry, string][] = [
      [{ kind: 'waiting', at, device_check: 'camera_off' }, 'The patient was waiting (joining without a camera)'],
      [{ kind: 'waiting', at, device_check: 'passed' }, 'The patient was waiting (camera and microphone worked)'],
      [{ kind: 'waiting', at, device_check: 'failed' }, 'The patient was waiting (the device check found a problem)'],
      [{ kind: 'waiting', at, device_check: 'unknown' }, 'The patient was waiting (no device check reported)'],
      [{ kind: 'started', at, by: 'Dr Amara Okafor' }, 'Consultation started by Dr Amara Okafor'],
      [{ kind: 'started', at, by: null }, 'Consultation started'],
      [{ kind: 'joined', at, role: 'doctor' }, 'The doctor joined'],
      [{ kind: 'joined', at, role: 'other' }, 'Someone else joined'],
      [{ kind: 'left', at, role: 'patient', seconds: 600 }, 'The patient left after 10 min'],
      [{ kind: 'left', at, role: 'patient', seconds: null }, 'The patient left'],
      [{ kind: 'message', at, index: 0, author: 'patient', body: 'My rash is better', media: [] }, 'The patient: My rash is better'],
      [
        { kind: 'message', at, index: 1, author: 'doctor', body: null, media: [{ sid: 'ME1', content_type: 'image/png', filename: 'rash.png', size: 10, state: 'kept' }, { sid: null, content_type: null, filename: null, size: null, state: 'unavailable' }] },
        'The doctor: [attachment: rash.png] [attachment: file, not kept: Twilio no longer has it or would not give it]',
      ],
      [
        { kind: 'message', at, index: 2, author: 'patient', body: 'Scan attached', media: [{ sid: 'ME2', content_type: 'application/pdf', filename: 'scan.pdf', size: 11e6, state: 'too_large' }, { sid: 'ME3', content_type: 'image/jpeg', filename: 'a.jpg', size: 5, state: 'waiting' }] },
        'The patient: Scan attached [attachment: scan.pdf, not kept: larger than 10 MB] [attachment: a.jpg, not fetched yet]',
      ],
      [{ kind: 'recording_consent', at, by: 'Dr Amara Okafor' }, 'The patient agreed to recording (recorded by Dr Amara Okafor)'],
      [{ kind: 'recording_consent', at, by: null }, 'The patient agreed to recording (recorded)'],
      [{ kind: 'recording', at, on: true, by: 'Dr Amara Okafor' }, 'Recording switched on by Dr Amara Okafor'],
      [{ kind: 'recording', at, on: false, by: null }, 'Recording switched off'],
      [{ kind: 'ended', at, by: 'Dr Amara Okafor' }, 'Consultation ended by Dr Amara Okafor'],
      [{ kind: 'notes_amended', at, version: 2, by: 'Dr Amara Okafor' }, 'Notes amended (amendment 2) by Dr Amara Okafor'],
      [{ kind: 'chat_removed', at }, "The chat was removed under the clinic's retention rule"],
    ];
    for (const [entry, sentence] of cases) expect(words(entry)).toBe(sentence);
  });

  it('gives file sizes as people say them', () => {
    expect([fileSize(900), fileSize(48_213), fileSize(1_258_291)]).toEqual(['900 bytes', '47 KB', '1.2 MB']);
  });

  it('says how long each person was in the room and how often they joined', () => {
    expect(attendanceLine({ role: 'doctor', connections: 1, seconds: 900 })).toBe('The doctor: 15 min, joined once');
    expect(attendanceLine({ role: 'patient', connections: 2, seconds: 45 })).toBe('The patient: 45 s, joined twice');
    expect(attendanceLine({ role: 'other', connections: 3, seconds: 3700 })).toBe('Someone else: 1 h 1 min, joined 3 times');
  });

  it("tells times on the clinic's clock, not the computer's", () => {
    expect(clock(at, 'America/New_York')).toBe('09:05:31');
    expect(clock(at, 'Europe/London')).toBe('14:05:31');
    expect(moment('2026-03-02T23:30:00Z', 'Asia/Tokyo')).toBe('Tue 3 Mar 2026 08:30');
  });

  it("groups the timeline under the clinic's days, keeping its order", () => {
    const entries: TimelineEntry[] = [
      { kind: 'started', at: '2026-03-02T22:50:00Z', by: null },
      { kind: 'joined', at: '2026-03-02T22:59:59Z', role: 'doctor' },
      { kind: 'ended', at: '2026-03-02T23:10:00Z', by: null },
    ];
    expect(byDay(entries, 'Europe/London').map((d) => [d.day, d.entries.map((e) => e.kind)])).toEqual([
      ['Mon 2 Mar 2026', ['started', 'joined', 'ended']],
    ]);
    expect(byDay(entries, 'Europe/Berlin').map((d) => [d.day, d.entries.map((e) => e.kind)])).toEqual([
      ['Mon 2 Mar 2026', ['started', 'joined']],
      ['Tue 3 Mar 2026', ['ended']],
    ]);
  });

  it('labels the notes at the end and each amendment with who and when', () => {
    expect(versionLabel({ version: 0, text: 'a', saved_at: '2026-03-02T09:40:00Z', saved_by: 'Dr Amara Okafor' }, 'Europe/London'))
      .toBe('At the end — Dr Amara Okafor, Mon 2 Mar 2026 09:40');
    expect(versionLabel({ version: 2, text: 'b', saved_at: '2026-03-03T08:15:00Z', saved_by: null }, 'Europe/London'))
      .toBe('Amendment 2 — Tue 3 Mar 2026 08:15');
  });
});
