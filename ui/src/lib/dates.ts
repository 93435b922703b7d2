// Dates as the clinic sees them: "YYYY-MM-DD" strings in the clinic's time zone, never the
// computer's, so a receptionist on a laptop set to another zone still sees the clinic's day.

/** The parts of `now` on the wall clock of `timeZone`. Built from formatToParts because the
 *  formatted string differs between engines (WebKit writes en-CA dates as MM/DD/YYYY). */
function wallClock(timeZone: string, now: Date): Record<'year' | 'month' | 'day' | 'hour' | 'minute', string> {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(now);
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '00';
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour') === '24' ? '00' : get('hour'), minute: get('minute') };
}

/** Today's date in `timeZone`, as YYYY-MM-DD. */
export function todayIn(timeZone: string, now: Date = new Date()): string {
  const c = wallClock(timeZone, now);
  return `${c.year}-${c.month}-${c.day}`;
}

/** The current wall-clock time in `timeZone`, as HH:MM. */
export function timeIn(timeZone: string, now: Date = new Date()): string {
  const c = wallClock(timeZone, now);
  return `${c.hour}:${c.minute}`;
}

/** `date` moved by `days` calendar days (DST-proof: works on the date alone). */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number);
  const moved = new Date(Date.UTC(y, m - 1, d + days));
  // Past year 9999 (the date picker allows up to 275760) there is no YYYY-MM-DD to move to: stay put
  // rather than throw; the core explains which dates it accepts.
  if (Number.isNaN(moved.getTime()) || moved.getUTCFullYear() > 9999 || moved.getUTCFullYear() < 1) return date;
  return moved.toISOString().slice(0, 10);
}

/** "Monday 2 March 2026" (assembled from parts: engines disagree about the comma). */
export function longDate(date: string): string {
  const [y, m, d] = date.split('-').map(Number);
  const parts = new Intl.DateTimeFormat('en-GB', { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' })
    .formatToParts(new Date(Date.UTC(y, m - 1, d)));
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('weekday')} ${get('day')} ${get('month')} ${get('year')}`;
}

/** Minutes since midnight for "HH:MM". */
export function minutesOf(time: string): number {
  const [h, m] = time.split(':').map(Number);
  return h * 60 + m;
}

/** "HH:MM" for minutes since midnight. */
export function timeOf(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

/** The next quarter hour at or after `time`, as HH:MM (for a sensible default booking time). */
export function nextQuarter(time: string): string {
  const minutes = minutesOf(time);
  return timeOf(Math.min(23 * 60 + 45, Math.ceil(minutes / 15) * 15));
}

/** The parts of an instant on the clinic's wall clock, for the formatters below. */
function instantParts(iso: string, timeZone: string): Record<'weekday' | 'day' | 'month' | 'year' | 'hour' | 'minute', string> {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(iso));
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  return { weekday: get('weekday'), day: get('day'), month: get('month'), year: get('year'), hour: get('hour') === '24' ? '00' : get('hour'), minute: get('minute') };
}

/** An instant as "Mon 2 Mar 09:00" on the clinic's clock. */
export function clinicDateTime(iso: string, timeZone: string): string {
  const c = instantParts(iso, timeZone);
  return `${c.weekday} ${c.day} ${c.month} ${c.hour}:${c.minute}`;
}

/** An instant as "09:00" when it falls on the clinic's `today`, else "Mon 2 Mar 09:00". */
export function clinicWhen(iso: string, timeZone: string, now: Date = new Date()): string {
  const sameDay = todayIn(timeZone, new Date(iso)) === todayIn(timeZone, now);
  return sameDay ? timeIn(timeZone, new Date(iso)) : clinicDateTime(iso, timeZone);
}

/** An instant's date as "3 Mar 2026" on the clinic's clock (or the computer's, without a zone). */
export function clinicDate(iso: string, timeZone?: string): string {
  const c = instantParts(iso, timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone);
  return `${c.day} ${c.month} ${c.year}`;
}
