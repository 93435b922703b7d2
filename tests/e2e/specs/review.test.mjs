// Reviewing past consultations in the real window with Twilio unreachable (every Twilio address is a
// closed port): the top bar says "Offline" once, the Consultations screen lists the sample clinic's
// past video consultations, finds a word from a chat (accents ignored), opens the record at that
// message with its timeline, and saves it as a PDF. Screenshots go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, mkdir } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApp, screenshot, type, click, textOf, ARTIFACTS } from '../driver.mjs';

const ADMIN = { email: 'ada@riverside.example', password: 'correct horse battery' };
const CLOSED = 'http://127.0.0.1:9';

let app;
let browser;
let dataDir;
let exportDir;

function cli(...args) {
  return execFileSync(process.env.CLINICDESK_CLI_BINARY, ['--as', ADMIN.email, ...args], {
    env: { ...process.env, CLINICDESK_DATA_DIR: dataDir, CLINICDESK_PASSWORD: ADMIN.password,
      TWILIO_AUTH_TOKEN: 'fake-auth-token-0123456789abcdef', TWILIO_API_KEY_SECRET: 'test-api-key-secret-0123456789abcdef' },
  }).toString();
}

before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'clinicdesk-e2e-review-'));
  exportDir = path.join(dataDir, 'exports');
  execFileSync(process.env.CLINICDESK_CLI_BINARY, ['init', '--admin-email', ADMIN.email, '--clinic-name', 'Riverside Clinic', '--time-zone', 'Europe/London'], {
    env: { ...process.env, CLINICDESK_DATA_DIR: dataDir, CLINICDESK_PASSWORD: ADMIN.password },
  });
  cli('twilio', 'configure', '--account-sid', 'AC00000000000000000000000000000000', '--api-key-sid', 'SK11111111111111111111111111111111',
    '--from', '+15005550006');
  cli('demo-seed');
  // This window's Twilio is a closed port: no answer, ever (this file runs in its own process).
  for (const part of ['API', 'VIDEO', 'CONVERSATIONS', 'MESSAGING', 'SERVERLESS', 'SERVERLESS_UPLOAD', 'MEDIA']) {
    process.env[`CLINICDESK_TWILIO_${part}_URL`] = CLOSED;
  }
  process.env.CLINICDESK_EXPORT_DIR = exportDir;
  app = await startApp({ dataDir });
  browser = app.browser;
  await type(browser, '#sign-in-email', ADMIN.email);
  await type(browser, '#sign-in-password', ADMIN.password);
  await click(browser, 'button[type=submit]');
  await (await browser.$('#schedule-title')).waitForDisplayed({ timeout: 15_000 });
});

after(async () => {
  await app?.stop();
});

test('with Twilio unreachable the top bar says so once, quietly', async () => {
  const badge = await browser.$('.topbar button.badge');
  await browser.waitUntil(async () => (await badge.getText()).includes('Offline'), {
    timeout: 30_000, timeoutMsg: 'the top bar should say Offline once the Twilio check gets no answer',
  });
  assert.match(await badge.getAttribute('title'), /past consultations still work/);
  assert.equal((await browser.$$('[role=alert]')).length, 0, 'no alarm: a quiet notice');
});

test('the Consultations screen lists past consultations, newest first, with nothing waiting on the network', async () => {
  await (await (await browser.$('nav[aria-label="Main"]')).$('button=Consultations')).click();
  await (await browser.$('#review-title')).waitForDisplayed({ timeout: 10_000 });
  const rows = await browser.$$('[data-testid="consultation-row"]');
  await browser.waitUntil(async () => (await browser.$$('[data-testid="consultation-row"]')).length > 0, {
    timeout: 10_000, timeoutMsg: 'the sample clinic has past video consultations',
  });
  assert.ok(rows.length > 0 || (await browser.$$('[data-testid="consultation-row"]')).length > 0);
  assert.equal(await browser.$('.banner.error').isExisting(), false, 'no error on the screen');
  await screenshot(browser, '30-review-list');
});

test('a word from a chat is found without its accent, highlighted, and opens the record at that message', async () => {
  const search = await browser.$('input[aria-label="Search notes and chat"]');
  await search.setValue('cafe');
  const mark = await browser.$('mark=café');
  await mark.waitForDisplayed({ timeout: 10_000 });
  await screenshot(browser, '31-review-search');
  await mark.click();
  const message = await browser.$('//*[starts-with(@id, "message-")][contains(., "at the café")]');
  await message.waitForDisplayed({ timeout: 10_000 });
  const timeline = await textOf(browser, 'ol[aria-label="Timeline"]');
  // In time order: waiting, started, both joined, the chat, both left, ended.
  const order = ['The patient was waiting', 'Consultation started', 'The doctor joined', 'The patient joined', 'at the café', 'left after', 'Consultation ended'];
  const at = order.map((words) => timeline.indexOf(words));
  assert.ok(at.every((i) => i >= 0), `every moment is on the timeline: ${at} in\n${timeline}`);
  assert.deepEqual([...at].sort((a, b) => a - b), at, `in time order:\n${timeline}`);
  assert.match(await textOf(browser, '#record-notes'), /Migraine frequency down/);
  await screenshot(browser, '32-review-record');
});

test('the record saves as a PDF, which says it holds personal health information', async () => {
  await click(browser, 'button=Save as PDF');
  const saved = await browser.$('//*[@role="status"][contains(., "Saved as")]');
  await saved.waitForDisplayed({ timeout: 20_000 });
  const file = (await saved.getText()).replace(/^.*Saved as\s+/, '').trim();
  assert.ok(file.startsWith(exportDir), `${file} is in the export folder`);
  const pdf = await readFile(file);
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  // What the PDF says, and its first page as an image beside the screenshots (poppler-utils, which
  // scripts/test.sh installs).
  const text = execFileSync('pdftotext', [file, '-']).toString();
  assert.match(text, /personal health information/);
  assert.match(text, /at the café/);
  await mkdir(ARTIFACTS, { recursive: true });
  execFileSync('pdftoppm', ['-png', '-r', '70', '-singlefile', file, path.join(ARTIFACTS, '33-review-record-pdf')]);
  await screenshot(browser, '33-review-saved');
});

test("a photo the patient sent is kept with the record, offline, and saves into the export folder", async () => {
  await click(browser, 'button*=Back to the list');
  const search = await browser.$('input[aria-label="Search notes and chat"]');
  await search.waitForDisplayed({ timeout: 10_000 });
  await search.setValue('photo');
  const mark = await browser.$('mark=photo');
  await mark.waitForDisplayed({ timeout: 10_000 });
  await mark.click();
  const files = await browser.$('ul[aria-label="Attachments"]');
  await files.waitForDisplayed({ timeout: 10_000 });
  assert.match(await files.getText(), /rash this morning\.png\s+8 KB/);
  await click(browser, 'button[aria-label="Save rash this morning.png into Downloads"]');
  const saved = await files.$('[role="status"]');
  await saved.waitForDisplayed({ timeout: 10_000 });
  assert.match(await saved.getText(), /Saved in .* as “rash this morning\.png”/);
  const kept = await readFile(path.join(exportDir, 'rash this morning.png'));
  const drawn = await readFile(new URL('../../../src-tauri/crates/core/assets/demo/rash-photo.png', import.meta.url));
  assert.ok(kept.equals(drawn), 'the saved file is the photo the patient sent, byte for byte');
  // Shown in place: the webview decodes the bytes the core checked (240 x 180 pixels).
  await click(browser, 'button[aria-label="Show rash this morning.png"]');
  const picture = await files.$('img.picture');
  await picture.waitForDisplayed({ timeout: 10_000 });
  await browser.waitUntil(async () => (await browser.execute((img) => img.naturalWidth, picture)) === 240, {
    timeout: 10_000, timeoutMsg: 'the photo should be decoded and drawn',
  });
  await picture.scrollIntoView({ block: 'center' });
  await screenshot(browser, '34-review-attachment');
});
