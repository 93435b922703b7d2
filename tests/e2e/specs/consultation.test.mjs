// A doctor's video consultation in the real window, against the fake Twilio: Start from the day view,
// the call handed to the system browser (WebKitGTK has no WebRTC) with a one-time link that works once
// and only once, the browser page's state shown in the window, a chat message from the patient, a note,
// and the end for everyone. The "browser" here is a script that records the link it was given.
// Then the patient's side: the texted link opened in Chromium (the built call page, and the call
// components' harness whose chat goes through the fake's REST API, since the Conversations SDK only
// talks to Twilio's hosts), the device check, the waiting room in the doctor's day view, Start from the
// banner, and chat both ways.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, chmod, stat } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { startApp, screenshot, setValue, type, click, textOf, ARTIFACTS } from '../driver.mjs';

const ADMIN = { email: 'ada@riverside.example', password: 'correct horse battery' };
const DOCTOR = { email: 'amara@riverside.example', password: 'doctor password 1', name: 'Dr Amara Okafor' };
const FAKE = process.env.CLINICDESK_TWILIO_CONVERSATIONS_URL;
const API_KEY = 'Basic ' + Buffer.from('SK11111111111111111111111111111111:test-api-key-secret-0123456789abcdef').toString('base64');

let app;
let browser;
let dataDir;
let linkFile;
let bookedAt;
/** A second video patient, booked to start within the quarter hour so their link already works. */
let liamAt;

function cli(as, password, ...args) {
  return execFileSync(process.env.CLINICDESK_CLI_BINARY, ['--as', as, ...args], {
    env: { ...process.env, CLINICDESK_DATA_DIR: dataDir, CLINICDESK_PASSWORD: password, CLINICDESK_NEW_PASSWORD: DOCTOR.password,
      TWILIO_AUTH_TOKEN: 'fake-auth-token-0123456789abcdef', TWILIO_API_KEY_SECRET: 'test-api-key-secret-0123456789abcdef' },
  }).toString();
}
const admin = (...args) => cli(ADMIN.email, ADMIN.password, ...args);

/** Clinic-local "YYYY-MM-DD HH:MM" about `minutes` from now, on a quarter hour (the clinic runs in UTC here). */
function soon(minutes) {
  const d = new Date(Date.now() + minutes * 60_000);
  d.setUTCMinutes(Math.ceil(d.getUTCMinutes() / 15) * 15, 0, 0);
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

before(async () => {
  assert.ok(FAKE, 'the fake Twilio URL comes from scripts/test.sh');
  dataDir = await mkdtemp(path.join(tmpdir(), 'clinicdesk-e2e-call-'));
  linkFile = path.join(dataDir, 'opened-links.txt');
  const opener = path.join(dataDir, 'browser.sh');
  await writeFile(opener, `#!/bin/sh\necho "$1" >> '${linkFile}'\n`);
  await chmod(opener, 0o755);
  execFileSync(process.env.CLINICDESK_CLI_BINARY, ['init', '--admin-email', ADMIN.email, '--clinic-name', 'Riverside Clinic', '--time-zone', 'UTC'], {
    env: { ...process.env, CLINICDESK_DATA_DIR: dataDir, CLINICDESK_PASSWORD: ADMIN.password },
  });
  admin('twilio', 'configure', '--account-sid', 'AC00000000000000000000000000000000', '--api-key-sid', 'SK11111111111111111111111111111111',
    '--from', '+15005550006', '--conversations-service', 'IS22222222222222222222222222222222');
  admin('user', 'add', '--email', DOCTOR.email, '--role', 'doctor', '--name', DOCTOR.name);
  const doctor = JSON.parse(admin('--json', 'doctor', 'add', '--user', DOCTOR.email, '--specialization', 'General practice'));
  const patient = JSON.parse(admin('--json', 'patient', 'add', '--name', 'Olivia Smith', '--phone', '07400 123456'));
  bookedAt = soon(20);
  admin('appointment', 'book', '--patient', patient.id, '--doctor', doctor.id, '--at', bookedAt, '--video');
  const liam = JSON.parse(admin('--json', 'patient', 'add', '--name', 'Liam Brown', '--phone', '07400 654321'));
  liamAt = soon(1);
  admin('appointment', 'book', '--patient', liam.id, '--doctor', doctor.id, '--at', liamAt, '--minutes', '15', '--video');
  process.env.CLINICDESK_BROWSER = opener;
  app = await startApp({ dataDir });
  browser = app.browser;
});

after(async () => {
  await app?.stop();
});

/** The built call page (ui/dist), served on loopback as a clinic's website would serve it. */
async function servePage() {
  const dist = path.resolve(import.meta.dirname, '../../../ui/dist');
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
  const server = createServer(async (request, response) => {
    const file = path.join(dist, path.normalize(new URL(request.url, 'http://x').pathname).replace(/^\/+/, ''));
    try {
      if (!file.startsWith(dist)) throw new Error('outside');
      const body = await readFile(file);
      response.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/call.html`, close: () => server.close() };
}

test("the patient's link goes out by text and opens the patient's page: the clinic's greeting, and when it opens", async () => {
  const page = await servePage();
  const chrome = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--headless=new', '--no-sandbox'] });
  try {
    admin('settings', 'set', 'sms.quiet_hours', 'off');
    admin('settings', 'set', 'video.call_page_url', page.url);
    const booked = JSON.parse(admin('--json', 'appointment', 'list', '--date', bookedAt.slice(0, 10))).appointments.find((a) => a.patient_name === 'Olivia Smith');
    const queued = JSON.parse(admin('--json', 'consultation', 'invite', booked.booking_ref));
    assert.equal(queued.kind, 'invite');
    // The app's outbox sends it to (the fake) Twilio; the link is read back from what Twilio received.
    let body;
    await browser.waitUntil(async () => {
      const sent = await (await fetch(`${FAKE}/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json`, { headers: { authorization: API_KEY } })).json();
      body = sent.messages?.find((m) => m.body.includes(`${page.url}#t=`))?.body;
      return Boolean(body);
    }, { timeout: 30_000, timeoutMsg: 'the invite should reach Twilio' });
    const link = body.split(/\s+/).find((word) => word.startsWith(page.url));
    assert.match(body, /^Hi Olivia, your video visit with Dr Amara Okafor is on /);

    const context = await chrome.newContext({ viewport: { width: 360, height: 740 } });
    const patient = await context.newPage();
    const errors = [];
    patient.on('pageerror', (error) => errors.push(error.message));
    await patient.goto(link);
    await patient.getByRole('heading', { name: 'Hello Olivia' }).waitFor({ timeout: 15_000 });
    assert.ok(await patient.getByText('Riverside Clinic', { exact: true }).isVisible());
    assert.ok(await patient.getByText('Dr Amara Okafor').first().isVisible());
    // Booked at least 20 minutes ahead, so the link (open from 15 minutes before) says when it opens.
    assert.match(await patient.getByRole('status').innerText(), /This link opens at .* 15 minutes before your appointment/);
    assert.equal(await patient.getByRole('button', { name: 'Check my camera and microphone' }).count(), 0);
    assert.equal(await patient.getByText('Smith').count(), 0, 'no surname on the page');
    await patient.screenshot({ path: path.join(ARTIFACTS, '19-patient-link-early.png') });
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await chrome.close();
    page.close();
  }
});

async function exchange(url, code) {
  const response = await fetch(new URL('/api/exchange', url), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

test('a doctor starts a video consultation from the day view; the call opens in the browser with a one-time link', async () => {
  await type(browser, '#sign-in-email', DOCTOR.email);
  await type(browser, '#sign-in-password', DOCTOR.password);
  await click(browser, 'button=Sign in');
  // The appointment's own day (twenty minutes from now can be tomorrow near midnight).
  await (await browser.$('#schedule-title')).waitForDisplayed({ timeout: 15_000 });
  await setValue(browser, 'input[aria-label="Go to date"]', bookedAt.slice(0, 10));
  const start = await browser.$('[data-testid="day-grid"] button[aria-label="Start the video consultation with Olivia Smith"]');
  await start.waitForClickable({ timeout: 15_000 });
  await browser.waitUntil(async () => !/Loading/.test(await textOf(browser, '.summary')), { timeout: 10_000 });
  await start.scrollIntoView({ block: 'center' });
  await screenshot(browser, '16-day-view-video-start');

  await start.click();

  // WebKitGTK has no RTCPeerConnection: the system-browser host is chosen at run time.
  await (await browser.$('[data-testid="browser-host"]')).waitForDisplayed({ timeout: 20_000 });
  await browser.waitUntil(async () => (await readFile(linkFile, 'utf8').catch(() => '')).trim() !== '', {
    timeout: 15_000, timeoutMsg: 'the app should open the call link in the "browser"',
  });
  // The "browser" gets a file readable by this account only that forwards to the link: the code is
  // never on a command line, where other accounts could read it.
  const opened = new URL((await readFile(linkFile, 'utf8')).trim().split('\n').at(-1));
  assert.equal(opened.protocol, 'file:');
  assert.equal((await stat(opened)).mode & 0o077, 0, 'the forwarding page is private to this account');
  const forward = (await readFile(opened, 'utf8')).match(/http-equiv="refresh" content="0;url=([^"]+)"/)?.[1];
  assert.ok(forward, 'the page forwards to the call link');
  const link = new URL(forward);
  assert.equal(link.hostname, '127.0.0.1', 'the call page is served on loopback only');
  assert.equal(link.search, '', 'nothing in the query string');
  const code = new URLSearchParams(link.hash.slice(1)).get('code');
  assert.ok(code && code.length >= 20, 'the code travels in the fragment');

  const page = await fetch(new URL('/call.html', link));
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  const script = (await page.text()).match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
  assert.ok(script, 'the call page names its script');
  assert.equal((await fetch(new URL(script, link))).status, 200, 'its script is served');
  assert.equal((await fetch(new URL('/assets/not-there.js', link))).status, 404, 'nothing else, not even the app');

  const first = await exchange(link, code);
  assert.equal(first.status, 200);
  assert.equal(first.body.remote_name, 'Olivia Smith');
  assert.equal(first.body.token.split('.').length, 3, 'the doctor\'s token, a JWT');
  const second = await exchange(link, code);
  assert.equal(second.status, 410, 'the one-time code works once only');
  assert.match(second.body.message, /already used/);

  // The page reports its call state; the window shows it.
  const report = await fetch(new URL('/api/report', link), {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${first.body.report_key}` },
    body: JSON.stringify({ phase: 'connected' }),
  });
  assert.ok(report.ok, `report accepted (${report.status})`);
  await browser.waitUntil(async () => /You are in the call/.test(await textOf(browser, '[data-testid="browser-host"]')), {
    timeout: 10_000, timeoutMsg: 'the window shows the browser call\'s state',
  });
  assert.equal(await textOf(browser, '[data-testid="consultation-state"]'), 'In progress');

  // The patient writes in the chat (posted to the fake as the patient's identity).
  const room = first.body.room;
  const people = await (await fetch(`${FAKE}/v1/Conversations/${room}/Participants`, { headers: { authorization: API_KEY } })).json();
  const patient = people.participants.find((p) => p.identity !== first.body.identity);
  const posted = await fetch(`${FAKE}/v1/Conversations/${room}/Messages`, {
    method: 'POST', headers: { authorization: API_KEY, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ Author: patient.identity, Body: 'Hello doctor, the rash is better today.' }),
  });
  assert.ok(posted.ok, `the fake took the patient's message (${posted.status})`);
  await browser.waitUntil(async () => /the rash is better today/.test(await textOf(browser, '.chat')), {
    timeout: 15_000, timeoutMsg: 'the patient\'s message should appear in the chat',
  });
  assert.match(await textOf(browser, '.chat'), /Olivia Smith/, 'named from the clinic\'s records');

  // The doctor answers with one of the clinic's chat replies (a template, filled in with the first name).
  await click(browser, '.chat button[title="Hello Olivia, I will be with you in a minute."]');
  await click(browser, '.chat button[type="submit"]');
  await browser.waitUntil(async () => {
    const log = await (await fetch(`${FAKE}/v1/Conversations/${room}/Messages`, { headers: { authorization: API_KEY } })).json();
    return log.messages.some((m) => m.author === first.body.identity && m.body === 'Hello Olivia, I will be with you in a minute.');
  }, { timeout: 15_000, timeoutMsg: 'the doctor\'s reply should reach the conversation as the doctor' });

  await type(browser, 'textarea[aria-label="Consultation notes"]', 'Rash improving; review in two weeks.');
  await browser.waitUntil(async () => /Saved at/.test(await textOf(browser, '.notes')), { timeout: 10_000, timeoutMsg: 'the notes save as typed' });
  await screenshot(browser, '17-consultation-in-progress');

  await click(browser, '[data-testid="end-for-everyone"]');
  await click(browser, 'dialog[open] button.danger');
  await browser.waitUntil(async () => (await textOf(browser, '[data-testid="consultation-state"]')) === 'Completed', {
    timeout: 15_000, timeoutMsg: 'the consultation should end',
  });
  const booked = JSON.parse(admin('--json', 'appointment', 'list', '--date', bookedAt.slice(0, 10))).appointments.find((a) => a.patient_name === 'Olivia Smith');
  const kept = JSON.parse(cli(DOCTOR.email, DOCTOR.password, '--json', 'consultation', 'status', booked.booking_ref));
  assert.equal(kept.state, 'completed');
  assert.equal(kept.notes, 'Rash improving; review in two weeks.');
  await screenshot(browser, '18-consultation-completed');
});

/**
 * The call components' harness (ui/call-harness.html, Vite's dev server on ui/) with `/fake-twilio`
 * forwarded to the fake Twilio: the patient's page there runs with the SDK doubles, its chat through the
 * fake's REST API (RestChatBackend), so it reaches the same conversation as the doctor's app.
 */
async function servePatientHarness() {
  const ui = path.resolve(import.meta.dirname, '../../../ui');
  const vite = await import(pathToFileURL(createRequire(path.join(ui, 'package.json')).resolve('vite')).href);
  const server = await vite.createServer({
    root: ui,
    configFile: path.join(ui, 'vite.config.ts'),
    logLevel: 'warn',
    clearScreen: false,
    server: {
      host: '127.0.0.1', port: 0, strictPort: false, watch: null, hmr: false,
      proxy: { '/fake-twilio': { target: FAKE, changeOrigin: true, rewrite: (p) => p.replace(/^\/fake-twilio/, '') } },
    },
  });
  await server.listen();
  return { origin: `http://127.0.0.1:${server.httpServer.address().port}`, close: () => server.close() };
}

test("the patient opens the texted link in Chromium, waits, shows in the doctor's day view, is let in, and both chat", async () => {
  const harness = await servePatientHarness();
  const chrome = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  });
  try {
    // Reception texts Liam his link; the link is read back from what (the fake) Twilio received.
    await click(browser, 'button[aria-label="Back to the schedule"]');
    await (await browser.$('#schedule-title')).waitForDisplayed({ timeout: 15_000 });
    if (liamAt.slice(0, 10) !== bookedAt.slice(0, 10)) await setValue(browser, 'input[aria-label="Go to date"]', liamAt.slice(0, 10));
    const liamRef = JSON.parse(admin('--json', 'appointment', 'list', '--date', liamAt.slice(0, 10))).appointments
      .find((a) => a.patient_name === 'Liam Brown').booking_ref;
    admin('consultation', 'invite', liamRef);
    let body;
    await browser.waitUntil(async () => {
      const sent = await (await fetch(`${FAKE}/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json`, { headers: { authorization: API_KEY } })).json();
      body = sent.messages?.find((m) => m.body.startsWith('Hi Liam'))?.body;
      return Boolean(body);
    }, { timeout: 30_000, timeoutMsg: "Liam's invite should reach Twilio" });
    const link = new URL(body.split(/\s+/).find((word) => word.includes('#t=')));

    // His phone: the clinic's page with his link; the device check on Chromium's fake camera.
    const context = await chrome.newContext({ viewport: { width: 360, height: 740 } });
    const phone = await context.newPage();
    const errors = [];
    phone.on('pageerror', (error) => errors.push(error.message));
    const key = API_KEY.replace(/^Basic /, '');
    await phone.goto(`${harness.origin}/call-harness.html?view=patient&chat=rest&fake=/fake-twilio&key=${encodeURIComponent(key)}&hash=${encodeURIComponent(link.hash)}`);
    await phone.getByRole('heading', { name: 'Hello Liam' }).waitFor({ timeout: 30_000 });
    // Booked within the quarter hour, the link may open a moment after the test reaches it: the page
    // says when, and offers the check by itself once it opens.
    await phone.getByRole('button', { name: 'Check my camera and microphone' }).click({ timeout: 90_000 });
    await phone.waitForFunction(() => document.querySelector('video[aria-label="Your camera preview"]')?.videoWidth > 0, null, { timeout: 20_000 });
    await phone.waitForFunction(() => !document.querySelector('button:disabled'), null, { timeout: 20_000 });
    await phone.getByRole('button', { name: 'Go to the waiting room' }).click();
    await phone.getByText('Dr Amara Okafor will let you in shortly.').waitFor();
    await phone.getByRole('textbox', { name: /message/i }).waitFor({ timeout: 20_000 });
    await phone.getByRole('textbox', { name: /message/i }).fill('I am here, the camera works.');
    await phone.keyboard.press('Enter');
    await phone.getByText('I am here, the camera works.').waitFor();

    // The doctor's day view: the waiting room banner, the tag, and Start.
    const waiting = await browser.$('[data-testid="waiting-patient"]');
    await waiting.waitForDisplayed({ timeout: 20_000, timeoutMsg: 'the day view should show the waiting patient' });
    assert.match(await waiting.getText(), /Liam Brown is in the waiting room for Dr Amara Okafor's video appointment at \d\d:\d\d/);
    assert.match(await waiting.getText(), /camera and microphone checked/);
    await screenshot(browser, '16b-day-view-patient-waiting');
    await phone.screenshot({ path: path.join(ARTIFACTS, '20-patient-waiting-for-the-doctor.png') });

    // Start from the banner: the consultation opens; the waiting-room message is in the doctor's chat.
    await click(browser, '[data-testid="waiting-patient"] button');
    // Starting makes the room and the chat at (fake) Twilio before the consultation view opens: on
    // a busy machine that took over ten seconds once, so the chat gets half a minute to appear.
    await browser.waitUntil(async () => /I am here, the camera works\./.test(await textOf(browser, '.chat', 30_000)), {
      timeout: 45_000, timeoutMsg: "the patient's waiting-room message should be in the doctor's chat",
    });
    await type(browser, '.chat textarea', 'Hello Liam, I can see you are ready.');
    await click(browser, '.chat button[type="submit"]');
    await phone.getByText('Hello Liam, I can see you are ready.').waitFor({ timeout: 20_000 });

    // The room is open at Twilio now: the page's next try joins (the video SDK is the double here).
    await phone.waitForFunction(() => window.harness.calls.rooms.length > 0);
    await phone.evaluate(() => {
      const doctor = { sid: 'PA0002', identity: 'd-doctor' };
      window.harness.room.emit('connected', [doctor]);
    });
    await phone.getByRole('button', { name: /leave/i }).waitFor();
    // The chat goes on in the call (the call view is drawn a moment after the button: wait for it,
    // not a snapshot of the page mid-change, which made this flaky once in CI).
    await phone.getByText('Hello Liam, I can see you are ready.').waitFor({ state: 'visible', timeout: 10_000 });
    await phone.screenshot({ path: path.join(ARTIFACTS, '21-patient-in-the-call-with-chat.png') });
    await screenshot(browser, '22-doctor-chat-with-the-patient');
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await chrome.close();
    await harness.close();
  }
});

test("an administrator ends a consultation its doctor left running, from the appointment in the schedule", async () => {
  // Dr Okafor signs out with Liam's consultation still running (their computer closed for the day).
  await click(browser, 'button=Sign out');
  await (await browser.$('#sign-in-email')).waitForDisplayed({ timeout: 10_000 });
  await type(browser, '#sign-in-email', ADMIN.email);
  await type(browser, '#sign-in-password', ADMIN.password);
  await click(browser, 'button=Sign in');
  await (await browser.$('#schedule-title')).waitForDisplayed({ timeout: 15_000 });
  await setValue(browser, 'input[aria-label="Go to date"]', liamAt.slice(0, 10));
  const liam = await browser.$('[data-testid="day-grid"] button.open[aria-label*="Liam Brown"][aria-label*="consultation in progress"]');
  await liam.waitForClickable({ timeout: 20_000, timeoutMsg: "Liam's running consultation should show in the day view" });
  await liam.click();
  const running = await browser.$('[data-testid="left-running"]');
  await running.waitForDisplayed({ timeout: 10_000 });
  assert.match(await running.getText(), /Dr Amara Okafor's video consultation is still running/);
  await click(browser, 'button=End the consultation…');
  assert.match(await textOf(browser, 'dialog[open] .banner.warn'), /the patient leaves the call, the chat closes/);
  // The safe choice has the focus; the screenshot once that frame is drawn.
  await browser.waitUntil(async () => (await browser.execute(() => document.activeElement?.textContent?.trim())) === 'Keep it running', {
    timeout: 10_000, timeoutMsg: '"Keep it running" should have the focus',
  });
  await browser.pause(300);
  await screenshot(browser, '23-admin-ends-consultation-left-running');
  await click(browser, 'dialog[open] button.danger');
  await browser.waitUntil(async () => /Ended Liam Brown's video consultation with Dr Amara Okafor/.test(await textOf(browser, '.schedule')), {
    timeout: 30_000, timeoutMsg: 'the end should be confirmed in the schedule',
  });
  // Ended at (fake) Twilio and in the clinic's records, by the administrator.
  const record = JSON.parse(admin('--json', 'consultation', 'status', JSON.parse(admin('--json', 'appointment', 'list', '--date', liamAt.slice(0, 10)))
    .appointments.find((a) => a.patient_name === 'Liam Brown').booking_ref));
  assert.equal(record.state, 'completed');
  await browser.waitUntil(async () => !(await browser.$('[data-testid="day-grid"] button.open[aria-label*="Liam Brown"][aria-label*="consultation in progress"]').isExisting()), {
    timeout: 15_000, timeoutMsg: 'the day view should no longer show it running',
  });
});
