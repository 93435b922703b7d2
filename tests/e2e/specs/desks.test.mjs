// Two real ClinicDesk windows, each with its own data folder, joined to one clinic server (a real
// PostgreSQL and clinicdesk-server, started by the e2e_clinic example): reception's desk books,
// and the doctor's desk shows the booking within seconds; the doctor runs a video consultation
// from their desk through the server (which holds the clinic's Twilio account, the fake Twilio
// here). Screenshots in tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile, chmod } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApp, screenshot, setValue, type, click, textOf } from '../driver.mjs';

/** The next Sunday: a day with nothing booked, in the future whatever the time now. */
function nextSunday() {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + ((7 - d.getUTCDay()) % 7 || 7));
  return d.toISOString().slice(0, 10);
}

let server;
let serverLines;
let clinic;
let front;
let room;

/** Starts the throwaway clinic server and reads the one line it prints. */
async function startClinicServer() {
  const binary = process.env.CLINICDESK_E2E_SERVER;
  if (!binary) throw new Error('Set CLINICDESK_E2E_SERVER to the built e2e_clinic example (scripts/test.sh does).');
  const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the clinic server stopped (exit ${code}) before it was ready`)));
  });
  return { child, lines, clinic: JSON.parse(first) };
}

let linkFile;

before(async () => {
  ({ child: server, lines: serverLines, clinic } = await startClinicServer());
  front = await startApp({ dataDir: await mkdtemp(path.join(tmpdir(), 'clinicdesk-front-')) });
  // The doctor's desk opens calls in "the system browser": a script that records the link.
  const roomDir = await mkdtemp(path.join(tmpdir(), 'clinicdesk-room-'));
  linkFile = path.join(roomDir, 'opened-links.txt');
  const opener = path.join(roomDir, 'browser.sh');
  await writeFile(opener, `#!/bin/sh\necho "$1" >> '${linkFile}'\n`);
  await chmod(opener, 0o755);
  const before = process.env.CLINICDESK_BROWSER;
  process.env.CLINICDESK_BROWSER = opener;
  room = await startApp({ dataDir: roomDir });
  if (before === undefined) delete process.env.CLINICDESK_BROWSER;
  else process.env.CLINICDESK_BROWSER = before;
});

after(async () => {
  await front?.stop();
  await room?.stop();
  // Closing its standard input stops the server and removes its database.
  server?.stdin.end();
  await new Promise((resolve) => (server?.exitCode !== null ? resolve() : server.once('exit', resolve)));
});

/** Cuts or heals the network between the desks and the clinic server (the relay in e2e_clinic). */
async function network(command) {
  const done = new Promise((resolve) => serverLines.once('line', resolve));
  server.stdin.write(`${command}\n`);
  assert.equal(await done, `ok ${command}`);
}

/** Books Ana Lima with the first doctor on `date` at `time` (30 minutes) from the booking dialog. */
async function bookAna(browser, date, time) {
  await setValue(browser, 'input[aria-label="Go to date"]', date);
  await click(browser, 'button*=Book appointment');
  await type(browser, '#booking-patient', 'Ana');
  await (await browser.$('.results li')).waitForExist({ timeout: 10_000 });
  await browser.keys('Enter');
  await (await browser.$('.chosen')).waitForDisplayed({ timeout: 10_000 });
  const doctorId = await browser.execute(() => document.querySelector('#booking-doctor option:not([disabled])').value);
  await setValue(browser, '#booking-doctor', doctorId);
  await setValue(browser, '#booking-date', date);
  await setValue(browser, '#booking-time', time);
  await setValue(browser, '#booking-minutes', '30');
  await click(browser, 'button=Book appointment');
}

/** First run on a desk: join the clinic server, then sign in with a server account. */
async function joinAndSignIn(browser, credential, person, desk) {
  assert.equal(await textOf(browser, 'h1'), 'Welcome to ClinicDesk');
  await click(browser, 'input[name=mode][value=server]');
  await setValue(browser, '#join-server', clinic.url);
  await type(browser, '#join-credential', credential);
  await click(browser, 'button[type=submit]');
  await (await browser.$('#sign-in-email')).waitForDisplayed({ timeout: 20_000 });
  assert.match(await textOf(browser, '[role=status]'), new RegExp(`now the desk “${desk}” of Riverside Clinic`));
  await type(browser, '#sign-in-email', person.email);
  await type(browser, '#sign-in-password', person.password);
  return browser;
}

async function waitConnected(browser) {
  await browser.waitUntil(async () => /Clinic server: connected/.test(await browser.$('.topbar').getText()), {
    timeout: 30_000,
    timeoutMsg: 'the top bar should say the desk is connected to the clinic server',
  });
}

test('each desk joins the clinic server from the first screen; staff sign in with their server accounts', async () => {
  await joinAndSignIn(front.browser, clinic.front, clinic.reception, 'Front desk');
  await screenshot(front.browser, '20-desk-joined-sign-in');
  await click(front.browser, 'button[type=submit]');
  await (await front.browser.$('#schedule-title')).waitForDisplayed({ timeout: 20_000 });
  await waitConnected(front.browser);
  assert.match(await textOf(front.browser, '.topbar .clinic'), /Riverside Clinic/);

  await joinAndSignIn(room.browser, clinic.room, clinic.doctor, 'Room 1');
  await click(room.browser, 'button[type=submit]');
  await (await room.browser.$('#schedule-title')).waitForDisplayed({ timeout: 20_000 });
  await waitConnected(room.browser);
});

test("reception books on the front desk; the doctor's desk shows it within seconds", async () => {
  const sunday = nextSunday();
  const browser = front.browser;
  await bookAna(browser, sunday, '10:30');
  const booked = await browser.$('.appt > button.open[aria-label*="Ana Lima"]');
  await booked.waitForDisplayed({ timeout: 10_000 });
  // Saved on the desk at once, then confirmed by the server: the "Not confirmed" mark goes.
  await browser.waitUntil(async () => !/not yet confirmed/.test(await booked.getAttribute('aria-label')), {
    timeout: 30_000,
    timeoutMsg: 'the clinic server should confirm the booking',
  });
  // The clinic's time zone came with the desk's first sync, after the schedule opened.
  await browser.waitUntil(async () => /times in Europe\/London/.test(await browser.$('main').getText()), {
    timeout: 10_000,
    timeoutMsg: "the front desk should show times in the clinic's zone",
  });
  await screenshot(browser, '21-front-desk-booked');

  const doctor = room.browser;
  await setValue(doctor, 'input[aria-label="Go to date"]', sunday);
  const seen = await doctor.$('.appt > button.open[aria-label*="Ana Lima"]');
  await seen.waitForDisplayed({ timeout: 30_000, timeoutMsg: "the doctor's desk should show reception's booking" });
  assert.match(await seen.getAttribute('aria-label'), /^10:30 to 11:00, Ana Lima/);
  await screenshot(doctor, '22-doctors-desk-shows-booking');
});

test('with the network cut, a booking waits on the desk as not confirmed, and goes when it is back', async () => {
  const sunday = nextSunday();
  const browser = front.browser;
  await network('cut');
  await bookAna(browser, sunday, '12:00');
  const waiting = await browser.$('.appt > button.open[aria-label*="12:00 to 12:30, Ana Lima"]');
  await waiting.waitForDisplayed({ timeout: 10_000 });
  // The grid marks it once the desk's state is next read (every 2 s).
  await browser.waitUntil(async () => /not yet confirmed by the clinic server/.test(await waiting.getAttribute('aria-label')), {
    timeout: 10_000,
    timeoutMsg: 'the booking made offline should be marked not yet confirmed',
  });
  await browser.waitUntil(async () => /Offline · 1 change waiting/.test(await browser.$('.topbar').getText()), {
    timeout: 30_000,
    timeoutMsg: 'the top bar should say the desk is offline with one change waiting',
  });
  await screenshot(browser, '23-desk-offline-not-confirmed');
  await click(browser, 'button*=Offline');
  const dialog = await browser.$('dialog[open]');
  await dialog.waitForDisplayed({ timeout: 10_000 });
  assert.match(await dialog.getText(), /Book Ana Lima with Dr Meredith Grey/);
  await screenshot(browser, '24-desk-changes-waiting');
  await browser.keys('Escape');
  await browser.waitUntil(async () => !(await browser.$('dialog[open]').isExisting()), { timeout: 10_000, timeoutMsg: 'the dialog should close' });

  await network('heal');
  await browser.waitUntil(async () => !/not yet confirmed/.test(await waiting.getAttribute('aria-label')), {
    timeout: 30_000,
    timeoutMsg: 'the booking should be confirmed once the network is back',
  });
  await waitConnected(browser);
  const doctor = room.browser;
  const seen = await doctor.$('.appt > button.open[aria-label*="12:00 to 12:30, Ana Lima"]');
  await seen.waitForDisplayed({ timeout: 30_000, timeoutMsg: "the doctor's desk should show the booking made offline" });
});

const FAKE = process.env.CLINICDESK_TWILIO_CONVERSATIONS_URL;
const API_KEY = 'Basic ' + Buffer.from('SK11111111111111111111111111111111:test-api-key-secret-0123456789abcdef').toString('base64');

test("the doctor runs a video consultation from their desk through the clinic server: start, chat, end", async () => {
  assert.ok(FAKE, 'the fake Twilio URL comes from scripts/test.sh');
  const doctor = room.browser;
  const video = clinic.video;
  await setValue(doctor, 'input[aria-label="Go to date"]', video.date);
  const start = await doctor.$(`[data-testid="day-grid"] button[aria-label="Start the video consultation with ${video.patient}"]`);
  await start.waitForClickable({ timeout: 30_000, timeoutMsg: "the doctor's desk should offer Start for the video appointment" });
  await start.scrollIntoView({ block: 'center' });
  await start.click();

  // The server made the room and the chat at Twilio; the call opens in the browser as on one desk.
  await (await doctor.$('[data-testid="browser-host"]')).waitForDisplayed({ timeout: 30_000 });
  await doctor.waitUntil(async () => (await textOf(doctor, '[data-testid="consultation-state"]')) === 'In progress', {
    timeout: 30_000, timeoutMsg: 'the consultation should be in progress',
  });
  await doctor.waitUntil(async () => (await readFile(linkFile, 'utf8').catch(() => '')).trim() !== '', {
    timeout: 15_000, timeoutMsg: 'the desk should open the call link in the "browser"',
  });

  // The patient writes in the chat (posted to the fake as the patient's identity). The window's
  // live chat connection cannot reach the fake, so its chat goes through the desk's core and the
  // clinic server.
  // Which room: from the call link the desk handed to the "browser" (its one-time code, exchanged).
  const opened = new URL((await readFile(linkFile, 'utf8')).trim().split('\n').at(-1));
  const forward = new URL((await readFile(opened, 'utf8')).match(/http-equiv="refresh" content="0;url=([^"]+)"/)[1]);
  const code = new URLSearchParams(forward.hash.slice(1)).get('code');
  const exchanged = await fetch(new URL('/api/exchange', forward), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }),
  });
  assert.equal(exchanged.status, 200);
  const call = await exchanged.json();
  assert.equal(call.remote_name, video.patient);
  const name = call.room;
  const people = await (await fetch(`${FAKE}/v1/Conversations/${name}/Participants`, { headers: { authorization: API_KEY } })).json();
  const patient = people.participants.find((p) => JSON.parse(p.attributes ?? '{}').role === 'patient');
  const posted = await fetch(`${FAKE}/v1/Conversations/${name}/Messages`, {
    method: 'POST', headers: { authorization: API_KEY, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ Author: patient.identity, Body: 'Hello doctor, I can hear you.' }),
  });
  assert.ok(posted.ok, `the fake took the patient's message (${posted.status})`);
  await doctor.waitUntil(async () => /I can hear you/.test(await textOf(doctor, '.chat')), {
    timeout: 30_000, timeoutMsg: "the patient's message should appear in the doctor's chat",
  });
  assert.match(await textOf(doctor, '.chat'), /Ben Okafor/, "named from the clinic's records");
  await type(doctor, 'textarea[aria-label="Consultation notes"]', 'Seen by video from Room 1.');
  await doctor.waitUntil(async () => /Saved at/.test(await textOf(doctor, '.notes')), { timeout: 10_000, timeoutMsg: 'the notes save as typed' });
  await screenshot(doctor, '25-desk-consultation-in-progress');

  await click(doctor, '[data-testid="end-for-everyone"]');
  await click(doctor, 'dialog[open] button.danger');
  await doctor.waitUntil(async () => (await textOf(doctor, '[data-testid="consultation-state"]')) === 'Completed', {
    timeout: 30_000, timeoutMsg: 'the consultation should end through the server',
  });
  // (Twilio finds a room by its name only while it runs: the completed one is listed.)
  const completed = await (await fetch(`${FAKE}/v1/Rooms?Status=completed&UniqueName=${name}`, { headers: { authorization: API_KEY } })).json();
  assert.ok(completed.rooms.some((r) => r.unique_name === name), 'the room is completed at Twilio');
  // The record the server kept at the end is on the desk: the chat reads from it.
  await doctor.waitUntil(async () => {
    const chat = await textOf(doctor, '.chat');
    return /I can hear you/.test(chat) && !/Loading messages/.test(chat);
  }, {
    timeout: 15_000, timeoutMsg: "the ended consultation's chat should be read from the desk's kept copy",
  });
  await screenshot(doctor, '26-desk-consultation-completed');
});

test("a patient's reply reaches the front desk's inbox; reception answers and marks it read, through the clinic server", async () => {
  assert.ok(FAKE, 'the fake Twilio URL comes from scripts/test.sh');
  const posted = await fetch(`${FAKE}/fake/incoming`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ From: '+447400123456', To: '+15005550006', Body: 'Running 10 minutes late, is that OK?' }),
  });
  assert.equal(posted.status, 201, "the fake took Ana's text");
  // The server reads replies once a minute; the test asks it to now.
  await network('replies');

  const browser = front.browser;
  const badge = await browser.$('button.badge[aria-label*="unread"]');
  await badge.waitForDisplayed({ timeout: 30_000, timeoutMsg: "the front desk's top bar should count the unread reply" });
  await badge.click();
  const row = await browser.$('li.reply*=Running 10 minutes late');
  await row.waitForDisplayed({ timeout: 15_000, timeoutMsg: "Ana's reply should be in the front desk's inbox" });
  assert.match(await row.getText(), /Ana Lima/, 'tied to the patient with that number');
  await screenshot(browser, '27-desk-inbox-reply');

  await (await row.$('button*=Reply')).click();
  await (await browser.$('dialog[open] textarea')).waitForDisplayed({ timeout: 10_000 });
  await type(browser, 'dialog[open] textarea', 'No problem, see you soon.');
  await (await (await browser.$('dialog[open]')).$('button=Send')).click();
  await browser.waitUntil(async () => !(await browser.$('dialog[open]').isExisting()), {
    timeout: 30_000, timeoutMsg: 'the text should go through the clinic server and the dialog close',
  });
  await browser.waitUntil(async () => /No problem, see you soon/.test(await textOf(browser, 'main')), {
    timeout: 30_000, timeoutMsg: "the desk's Texts screen should list the text to Ana",
  });
  await (await row.$('button=Mark as read')).click();
  await browser.waitUntil(async () => !(await browser.$('button.badge[aria-label*="unread"]').isExisting()), {
    timeout: 30_000, timeoutMsg: 'marked read on the server, the unread count goes',
  });
  await screenshot(browser, '28-desk-texts-after-reply');
});
