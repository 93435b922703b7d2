// The real ClinicDesk window: first-run setup, sign in, book an appointment, see it in the day view,
// refuse a double booking and a bad phone number next to the field, sign out. Screenshots of every
// main screen are kept in tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApp, screenshot, setValue, type, click, textOf } from '../driver.mjs';

const ADMIN = { name: 'Ada Lovelace', email: 'ada@riverside.example', password: 'correct horse battery' };

/** The next Sunday (the sample clinic books weekdays only, so its slots are free). */
function nextSunday() {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + ((7 - d.getUTCDay()) % 7 || 7));
  return d.toISOString().slice(0, 10);
}

let app;
let browser;
let dataDir;

before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'clinicdesk-e2e-'));
  app = await startApp({ dataDir });
  browser = app.browser;
});

after(async () => {
  await app?.stop();
});

test('first run: the setup screen creates the clinic and its administrator', async () => {
  assert.equal(await textOf(browser, 'h1'), 'Welcome to ClinicDesk');
  // The other choice, a desk of a clinic server: a plain-http address elsewhere is refused beside
  // the field by the core, and nothing is kept (the local setup below still works).
  await click(browser, 'input[name=mode][value=server]');
  await type(browser, '#join-server', 'http://clinic-server:8640');
  await type(browser, '#join-credential', 'k'.repeat(43));
  await click(browser, 'button[type=submit]');
  assert.match(await textOf(browser, '#join-server-error'), /must be reached over https/);
  await screenshot(browser, '00-setup-join-server');
  await click(browser, 'input[name=mode][value=local]');
  await type(browser, '#setup-clinic-name', 'Riverside Clinic');
  await setValue(browser, '#setup-time-zone', 'Europe/London');
  await setValue(browser, '#setup-country', 'GB');
  await type(browser, '#setup-admin-name', ADMIN.name);
  await type(browser, '#setup-email', ADMIN.email);
  await type(browser, '#setup-password', ADMIN.password);
  await type(browser, '#setup-confirm', 'a different password');
  await screenshot(browser, '01-setup');
  await click(browser, 'button[type=submit]');
  // A mismatch is caught next to the field, and nothing is created.
  assert.match(await textOf(browser, '#setup-confirm-error'), /different/);
  await (await browser.$('#setup-confirm')).setValue(ADMIN.password);
  await click(browser, 'button[type=submit]');
  // Setup signs the administrator in and opens the schedule (the sample clinic is loaded too).
  await (await browser.$('#schedule-title')).waitForDisplayed({ timeout: 60_000 });
  assert.match(await textOf(browser, '.topbar .clinic'), /Riverside Clinic/);
});

test('sign out and sign in again, with a wrong password refused first', async () => {
  await click(browser, 'button=Sign out');
  await (await browser.$('#sign-in-email')).waitForDisplayed({ timeout: 10_000 });
  assert.match(await textOf(browser, '[role=status]'), /signed out/);
  await type(browser, '#sign-in-email', ADMIN.email);
  await type(browser, '#sign-in-password', 'not my password');
  await click(browser, 'button[type=submit]');
  assert.equal(await textOf(browser, '[role=alert]'), 'The email or password is not correct.');
  await screenshot(browser, '02-sign-in');
  await type(browser, '#sign-in-password', ADMIN.password);
  await click(browser, 'button[type=submit]');
  await (await browser.$('#schedule-title')).waitForDisplayed({ timeout: 10_000 });
  await (await browser.$('.grid .head')).waitForDisplayed({ timeout: 10_000 });
  // The day view opens on today's date in the clinic's time zone, with no error.
  await browser.waitUntil(async () => /^\w+day \d{1,2} \w+ \d{4}$/.test(await (await browser.$('#schedule-title')).getText()), {
    timeout: 10_000, timeoutMsg: 'the schedule title should be a long date such as "Monday 2 March 2026"',
  });
  assert.equal(await browser.$('.banner.error').isExisting(), false, 'no error on the schedule');
  await screenshot(browser, '03-schedule-today');
});

test('reception books an appointment and sees it in the day view', async () => {
  const sunday = nextSunday();
  await setValue(browser, 'input[aria-label="Go to date"]', sunday);
  await browser.waitUntil(async () => (await browser.$$('.grid .appt')).length === 0, { timeout: 10_000, timeoutMsg: 'Sunday should be empty' });
  await click(browser, 'button*=Book appointment');
  await (await browser.$('#booking-patient')).waitForDisplayed({ timeout: 10_000 });

  // A new patient with a bad number is refused next to the phone field.
  await click(browser, 'button=+ New patient');
  await type(browser, '#booking-new-patient-name', 'Grace Hopper');
  await type(browser, '#booking-new-patient-phone', '12345');
  await click(browser, 'button=Add patient');
  assert.match(await textOf(browser, '#booking-new-patient-phone-error'), /not a valid phone number/);
  await (await browser.$('#booking-new-patient-phone')).setValue('07400 123456');
  await click(browser, 'button=Add patient');
  await (await browser.$('.chosen')).waitForDisplayed({ timeout: 10_000 });
  assert.match(await textOf(browser, '.chosen'), /Grace Hopper.*\+447400123456/);

  const doctorId = await browser.execute(() => document.querySelector('#booking-doctor option:not([disabled])').value);
  await setValue(browser, '#booking-doctor', doctorId);
  await setValue(browser, '#booking-date', sunday);
  await setValue(browser, '#booking-time', '10:30');
  await setValue(browser, '#booking-minutes', '30');
  await screenshot(browser, '04-booking-dialog');
  await click(browser, 'button=Book appointment');

  assert.match(await textOf(browser, '.banner.ok'), /Booked Grace Hopper .* at 10:30/);
  const booked = await browser.$('.appt > button.open[aria-label*="Grace Hopper"]');
  await booked.waitForDisplayed({ timeout: 10_000 });
  assert.match(await booked.getAttribute('aria-label'), /^10:30 to 11:00, Grace Hopper, in person, Scheduled$/);
  await screenshot(browser, '05-schedule-booked');
});

test('a double booking is refused with the reason, and the form keeps what was typed', async () => {
  const sunday = nextSunday();
  await click(browser, 'button*=Book appointment');
  await type(browser, '#booking-patient', 'Smith');
  // (WebKit's displayed-check rejects role=option items, so wait for them to exist.)
  await (await browser.$('.results li')).waitForExist({ timeout: 10_000 });
  assert.match(await textOf(browser, '.results'), /Smith/);
  await browser.keys('Enter');
  await (await browser.$('.chosen')).waitForDisplayed({ timeout: 10_000 });
  const doctorId = await browser.execute(() => document.querySelector('#booking-doctor option:not([disabled])').value);
  await setValue(browser, '#booking-doctor', doctorId);
  await setValue(browser, '#booking-date', sunday);
  await setValue(browser, '#booking-time', '10:45');
  await click(browser, 'button=Book appointment');
  assert.match(await textOf(browser, 'dialog .banner.error'), /already booked from 10:30 to 11:00/);
  assert.equal(await (await browser.$('#booking-time')).getValue(), '10:45');
  await screenshot(browser, '06-double-booking-refused');
  await (await browser.$('dialog').$('button=Cancel')).click();
  await browser.waitUntil(async () => !(await browser.$('dialog[open]').isExisting()), { timeout: 10_000, timeoutMsg: 'the dialog should close' });
});

test("a weekday of the sample clinic shows every doctor's appointments", async () => {
  const monday = new Date(nextSunday() + 'T12:00:00Z');
  monday.setUTCDate(monday.getUTCDate() + 1);
  await setValue(browser, 'input[aria-label="Go to date"]', monday.toISOString().slice(0, 10));
  await browser.waitUntil(async () => (await browser.$$('.grid .appt')).length > 10, { timeout: 10_000, timeoutMsg: 'sample appointments should show' });
  assert.equal((await browser.$$('.grid .head')).length, 5, 'a column per sample doctor');
  assert.match(await textOf(browser, '#schedule-title'), /^Monday /);
  await screenshot(browser, '10-schedule-weekday');
});

test('the other main screens open for an administrator', async () => {
  await click(browser, 'button.tab=Patients');
  await (await browser.$('table.list tbody tr')).waitForDisplayed({ timeout: 10_000 });
  await screenshot(browser, '07-patients');
  await click(browser, 'button.tab=Staff');
  await (await browser.$('td*=ada@riverside.example')).waitForDisplayed({ timeout: 10_000 });
  await screenshot(browser, '08-staff');
  await click(browser, 'button.tab=Settings');
  await browser.waitUntil(async () => (await (await browser.$('#settings-zone')).getValue()) === 'Europe/London', { timeout: 10_000 });
  await screenshot(browser, '09-settings');
  await click(browser, 'button.tab=Audit');
  await (await browser.$('td=Appointment booked')).waitForDisplayed({ timeout: 10_000 });
  assert.match(await textOf(browser, 'table.list'), /Sign-in refused/, 'the refused sign-in is on the record');
  await screenshot(browser, '13-audit');
});

test('an administrator connects Twilio in Settings and the check passes', async () => {
  assert.ok(process.env.CLINICDESK_TWILIO_API_URL, 'scripts/test.sh points the app at the fake Twilio');
  await click(browser, 'button.tab=Settings');
  await type(browser, '#tw-account', 'AC00000000000000000000000000000000');
  await type(browser, '#tw-token', 'fake-auth-token-0123456789abcdef');
  await type(browser, '#tw-key', 'SK11111111111111111111111111111111');
  await type(browser, '#tw-secret', 'test-api-key-secret-0123456789abcdef');
  await type(browser, '#tw-from', '+15005550006');
  await click(browser, 'button=Save and check');
  await browser.waitUntil(async () => (await browser.$$('.health li.ok')).length === 4, { timeout: 20_000, timeoutMsg: 'all four parts of the check should pass' });
  assert.equal(await (await browser.$('#tw-secret')).getValue(), '', 'secrets are never shown back');
  assert.equal(await (await browser.$('#tw-is')).getValue(), 'IS22222222222222222222222222222222', 'the account default found by the check is kept');
  await browser.waitUntil(async () => /Texts: working/.test(await (await browser.$('.badge')).getText()), { timeout: 40_000, timeoutMsg: 'the indicator turns green' });
  await (await browser.$('#twilio-title')).scrollIntoView();
  await screenshot(browser, '11-settings-twilio');
});

test('a text queued from the CLI is sent by the open app and shown as delivered', async () => {
  execFileSync(process.env.CLINICDESK_CLI_BINARY, ['--as', ADMIN.email, 'sms', 'send', '--no-wait', '--to', '07400 123456', '--body', 'Your appointment is confirmed for Monday at 10:30.'], {
    env: { ...process.env, CLINICDESK_DATA_DIR: dataDir, CLINICDESK_PASSWORD: ADMIN.password },
  });
  await click(browser, 'button.tab=Texts');
  await browser.waitUntil(
    async () => {
      await click(browser, 'button=All');
      return /Delivered/.test(await (await browser.$('table.list')).getText().catch(() => ''));
    },
    { timeout: 60_000, interval: 2000, timeoutMsg: 'the app\'s outbox worker should send and confirm the text' },
  );
  assert.match(await textOf(browser, 'table.list'), /Your appointment is confirmed/);
  await screenshot(browser, '12-texts');
});

/** The clinicdesk CLI on the app's clinic, as the administrator. */
function cli(...args) {
  return execFileSync(process.env.CLINICDESK_CLI_BINARY, ['--as', ADMIN.email, ...args], {
    env: { ...process.env, CLINICDESK_DATA_DIR: dataDir, CLINICDESK_PASSWORD: ADMIN.password },
  }).toString();
}

/** Opens the appointment's dialog until its texts timeline satisfies `ready`; returns its text. */
async function timelineOf(patient, ready, what) {
  let seen = '';
  await browser.waitUntil(
    async () => {
      await click(browser, `.appt > button.open[aria-label*="${patient}"]`);
      const timeline = await browser.$('section.texts');
      await timeline.waitForDisplayed({ timeout: 10_000 });
      await browser.waitUntil(async () => !/Loading/.test(await timeline.getText()), { timeout: 10_000 });
      seen = await timeline.getText();
      if (ready(seen)) return true;
      await browser.keys('Escape');
      return false;
    },
    { timeout: 60_000, interval: 1500, timeoutMsg: `${what}; the timeline showed: ${seen}` },
  );
  return seen;
}

test('a booking texts its confirmation; moving it texts the reschedule and withdraws the reminder', async () => {
  // In this test texts go at once and at any hour (the defaults wait a minute and keep quiet at night).
  cli('settings', 'set', 'sms.quiet_hours', 'off');
  cli('settings', 'set', 'sms.settle_seconds', '0');
  const sunday = nextSunday();
  await click(browser, 'button.tab=Schedule');
  await setValue(browser, 'input[aria-label="Go to date"]', sunday);
  await click(browser, 'button*=Book appointment');
  await (await browser.$('#booking-patient')).waitForDisplayed({ timeout: 10_000 });
  await click(browser, 'button=+ New patient');
  await type(browser, '#booking-new-patient-name', 'Mary Jackson');
  await type(browser, '#booking-new-patient-phone', '07400 123458');
  await click(browser, 'button=Add patient');
  await (await browser.$('.chosen')).waitForDisplayed({ timeout: 10_000 });
  const doctorId = await browser.execute(() => document.querySelector('#booking-doctor option:not([disabled])').value);
  await setValue(browser, '#booking-doctor', doctorId);
  await setValue(browser, '#booking-date', sunday);
  await setValue(browser, '#booking-time', '15:00');
  await setValue(browser, '#booking-minutes', '30');
  await click(browser, 'button=Book appointment');
  assert.match(await textOf(browser, '.text-outcome'), /Confirmation text queued/);

  // A reminder rule that falls due an hour from now for this appointment, so one is waiting.
  const day = JSON.parse(cli('--json', 'appointment', 'list', '--date', sunday));
  const booked = day.appointments.find((a) => a.patient_name === 'Mary Jackson');
  const minutes = Math.floor((Date.parse(booked.starts_at) - Date.now()) / 60_000) - 60;
  cli('settings', 'set', 'sms.reminders', `${minutes}m`);

  const before = await timelineOf(
    'Mary Jackson',
    (t) => /Confirmation[\s\S]*Delivered/.test(t) && /Reminder \([^)]+\)\s*Waiting to send/.test(t),
    'the confirmation should be delivered by the fake Twilio and a reminder should wait',
  );
  assert.doesNotMatch(before, /Reschedule/);
  await screenshot(browser, '14-appointment-texts');

  await click(browser, 'button=Reschedule…');
  await setValue(browser, '#move-date', sunday);
  await setValue(browser, '#move-time', '16:00');
  await click(browser, 'button=Move appointment');
  assert.match(await textOf(browser, '.text-outcome'), /Reschedule text queued/);

  const after = await timelineOf(
    'Mary Jackson',
    (t) => /Reschedule[\s\S]*Delivered/.test(t) && /Withdrawn: the appointment was moved/.test(t),
    'the reschedule text should be delivered and the old reminder withdrawn',
  );
  assert.match(after, /Reminder \([^)]+\)\s*Not sent/);
  await screenshot(browser, '15-appointment-moved-texts');
  await browser.keys('Escape');
});

test('signing out returns to the sign-in screen', async () => {
  await click(browser, 'button=Sign out');
  await (await browser.$('#sign-in-email')).waitForDisplayed({ timeout: 10_000 });
  assert.equal(await textOf(browser, 'h1'), 'Riverside Clinic');
});

test('the log file records the session without passwords or patient details', async () => {
  const logs = path.join(dataDir, 'logs');
  const files = await readdir(logs);
  assert.ok(files.length > 0, 'a log file is written in <data dir>/logs');
  const text = (await Promise.all(files.map((f) => readFile(path.join(logs, f), 'utf8')))).join('\n');
  assert.match(text, /ClinicDesk starting/);
  assert.match(text, /signed in/);
  for (const secret of [ADMIN.password, 'Grace Hopper', '+447400123456', '07400 123456', 'Smith']) {
    assert.ok(!text.includes(secret), `the log must not contain ${secret}`);
  }
});
