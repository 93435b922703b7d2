import { describe, expect, it } from 'vitest';
import { identifierHints, identifierWarning, looksIdentifying } from '../identifiers';

const today = new Date('2026-11-23T12:00:00Z');
const kinds = (text: string) => identifierHints(text, today).map((h) => h.kind);

describe('looksIdentifying', () => {
  it.each([
    ['Call me on 07700 900123', 'phone'],
    ['my mobile is +44 7700 900123', 'phone'],
    ['+447700900123', 'phone'],
    ['(555) 123-4567 is the number', 'phone'],
    ['0612345678', 'phone'],
  ])('flags a phone number: %s', (text, kind) => {
    expect(looksIdentifying(text, today)).toBe(true);
    expect(kinds(text)).toContain(kind);
  });

  it.each([
    'DOB 03/04/1985',
    'date of birth 3.4.85',
    'born 1985-04-03',
    'born 3 April 1985',
    'She was born on April 3rd, 1985.',
  ])('flags a past date: %s', (text) => {
    expect(kinds(text)).toEqual(['date']);
  });

  it.each([
    ['ID 123456789012', 'id'],
    ['insurance no. 8812 3344 5566 7788', 'id'],
    ['passport X1234567', 'id'],
    ['NI number AB123456C', 'id'],
    ['policy 1234567', 'id'],
  ])('flags an ID number: %s', (text, kind) => {
    expect(kinds(text)).toContain(kind);
  });

  it.each([
    'Take 2 tablets at 10:30 for 5 days',
    '500 mg twice a day, 1,250 ml of water',
    'Blood pressure 120/80, pulse 72',
    'Your next visit is on 12/05/2026 in room 12',
    'Follow up on 2 January 2027',
    'See you in 2027',
    'Ref 123456',
    'Thank you, doctor!',
    '',
  ])('lets an ordinary message pass: %s', (text) => {
    expect(identifierHints(text, today)).toEqual([]);
    expect(looksIdentifying(text, today)).toBe(false);
  });

  it('names what it found, each kind once', () => {
    const hints = identifierHints('07700 900123, 07700 900124 and DOB 03/04/1985', today);
    expect(hints.map((h) => h.match)).toEqual(['03/04/1985', '07700 900123', '07700 900124']);
    expect(identifierWarning(hints)).toBe(
      'This message looks like it contains a date (of birth?) and a phone number. Chat is not the place for identifiers unless the patient needs them.',
    );
  });
});
