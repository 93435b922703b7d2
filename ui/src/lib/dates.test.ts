import { describe, expect, it } from 'vitest';
import { addDays, clinicDate, clinicDateTime, clinicWhen, longDate, minutesOf, nextQuarter, timeIn, timeOf, todayIn } from './dates';

describe('clinic dates', () => {
  it("gives today's date and time on the clinic's clock, not the computer's", () => {
    const instant = new Date('2026-03-01T23:30:00Z');
    expect(todayIn('Europe/London', instant)).toBe('2026-03-01');
    expect(todayIn('Pacific/Auckland', instant)).toBe('2026-03-02');
    expect(todayIn('America/New_York', instant)).toBe('2026-03-01');
    expect(timeIn('Europe/London', instant)).toBe('23:30');
    expect(timeIn('Asia/Kolkata', instant)).toBe('05:00');
  });

  it('moves across month, year and clock-change boundaries by whole days', () => {
    expect(addDays('2026-01-31', 1)).toBe('2026-02-01');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    // The date picker's last days: no throw, no malformed date; the day simply does not move.
    expect(addDays('9999-12-31', 1)).toBe('9999-12-31');
    expect(addDays('275760-09-13', 1)).toBe('275760-09-13');
    expect(addDays('2026-03-29', -1)).toBe('2026-03-28');
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
  });

  it('formats and parses wall-clock times', () => {
    expect(longDate('2026-03-02')).toBe('Monday 2 March 2026');
    expect(minutesOf('09:30')).toBe(570);
    expect(timeOf(570)).toBe('09:30');
    expect(nextQuarter('09:31')).toBe('09:45');
    expect(nextQuarter('09:45')).toBe('09:45');
    expect(nextQuarter('23:59')).toBe('23:45');
  });
});

describe('instants on the clinic clock', () => {
  it("shows an instant in the clinic's zone, not the computer's", () => {
    expect(clinicDateTime('2026-03-01T23:30:00Z', 'Europe/London')).toBe('Sun 1 Mar 23:30');
    expect(clinicDateTime('2026-03-01T23:30:00Z', 'Pacific/Auckland')).toBe('Mon 2 Mar 12:30');
    expect(clinicDate('2026-03-01T23:30:00Z', 'Pacific/Auckland')).toBe('2 Mar 2026');
    const now = new Date('2026-03-02T07:00:00Z');
    expect(clinicWhen('2026-03-02T08:00:00Z', 'Europe/London', now)).toBe('08:00');
    expect(clinicWhen('2026-03-03T08:00:00Z', 'Europe/London', now)).toBe('Tue 3 Mar 08:00');
  });
});
