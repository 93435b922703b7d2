import { describe, expect, it } from 'vitest';
import { countSegments, nonGsmCharacters } from './segments';

// The same cases as the core's sms/segments.rs tests: the two must agree.
describe('segment count', () => {
  it('plain text is GSM-7 with the standard boundaries', () => {
    expect(countSegments('')).toEqual({ encoding: 'gsm7', segments: 0, units: 0 });
    expect(countSegments('a'.repeat(160)).segments).toBe(1);
    expect(countSegments('a'.repeat(161)).segments).toBe(2);
    expect(countSegments('a'.repeat(306)).segments).toBe(2);
    expect(countSegments('a'.repeat(307)).segments).toBe(3);
  });

  it('extension characters cost two and are not split', () => {
    expect(countSegments('€').units).toBe(2);
    expect(countSegments('€'.repeat(80)).segments).toBe(1);
    expect(countSegments('€'.repeat(81)).segments).toBe(2);
    const text = `${'a'.repeat(152)}{${'a'.repeat(152)}`;
    expect(countSegments(text)).toEqual({ encoding: 'gsm7', segments: 3, units: 306 });
  });

  it('one emoji or curly quote makes the whole text UCS-2', () => {
    const reminder = 'Reminder: your appointment is tomorrow at 09:30. Reply STOP to opt out.';
    expect(countSegments(reminder).encoding).toBe('gsm7');
    expect(countSegments(reminder.replace('your', '’your')).encoding).toBe('ucs2');
    expect(nonGsmCharacters('’a’b“’')).toEqual(['’', '“']);
    expect(countSegments(`${'a'.repeat(68)}🙂`).segments).toBe(1);
    expect(countSegments(`${'a'.repeat(69)}🙂`).segments).toBe(2);
    expect(countSegments('é'.repeat(160)).encoding).toBe('gsm7');
    expect(countSegments('Zoë').encoding).toBe('ucs2');
    expect(countSegments('ü'.repeat(71))).toEqual({ encoding: 'gsm7', segments: 1, units: 71 });
  });
});
