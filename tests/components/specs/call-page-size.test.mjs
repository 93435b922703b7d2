// The patient's call page as published: the production build (ui/dist, built by
// scripts/test-call-components.sh) served gzip-compressed, as Twilio's asset hosting serves it, in
// Chromium at phone size. Asserted: the welcome screen fetches neither Twilio SDK (they come after it),
// and the device check then fetches twilio-video only. Printed, not asserted: the bytes transferred up
// to each screen (the issue's target: under 600 kB gzip before the SDKs).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { UI, launch } from '../harness.mjs';

const DIST = path.join(UI, 'dist');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png' };

let server;
let origin;
let browser;
/** The hashed file names of the two SDK chunks, from Vite's manifest of the call page. */
let sdk;

before(async () => {
  const manifest = JSON.parse(await readFile(path.join(DIST, 'call-manifest.json'), 'utf8'));
  const chunk = (needle) => Object.entries(manifest).find(([source]) => source.includes(needle))?.[1].file;
  sdk = { video: chunk('node_modules/twilio-video/'), chat: chunk('node_modules/@twilio/conversations/') };
  assert.ok(sdk.video && sdk.chat, `both SDKs are their own chunks: ${JSON.stringify(sdk)}`);
  server = createServer(async (request, response) => {
    const wanted = path.normalize(new URL(request.url, 'http://x').pathname).replace(/^\/+/, '');
    const file = path.join(DIST, wanted);
    try {
      if (!file.startsWith(DIST + path.sep)) throw new Error('outside');
      const body = await readFile(file);
      const compress = /gzip/.test(request.headers['accept-encoding'] ?? '') && path.extname(file) !== '.png';
      response.writeHead(200, {
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        ...(compress ? { 'content-encoding': 'gzip' } : {}),
      });
      response.end(compress ? gzipSync(body, { level: 9 }) : body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.close();
});

/** A link as the core writes it, open now (the signature is not checked by the page; Twilio checks it). */
function link() {
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = { grants: { identity: 'p-5f0c2e', video: { room: 'cd-room' }, chat: { service_sid: 'IS0' } }, nbf: now - 60, exp: now + 3600 };
  const token = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.c2lnbmF0dXJl`;
  const fields = { t: token, c: 'Riverside Clinic', p: '020 7946 0000', d: 'Dr Amara Okafor', n: 'Ana', w: new Date((now + 300) * 1000).toISOString() };
  return '#' + new URLSearchParams(fields).toString();
}

test('the welcome fetches no Twilio SDK; the device check fetches twilio-video; figures printed', async () => {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
  const page = await context.newPage();
  const fetched = [];
  const requested = [];
  const measuring = [];
  page.on('request', (request) => requested.push(request.url()));
  page.on('requestfinished', (request) => {
    measuring.push(request.sizes().then(
      (sizes) => fetched.push({ url: request.url(), bytes: sizes.responseBodySize + sizes.responseHeadersSize }),
      () => fetched.push({ url: request.url(), bytes: 0 }),
    ));
  });
  // Sizes arrive after the requests finish: every one is counted before a total is read.
  const total = async () => {
    await Promise.all(measuring);
    return fetched.reduce((sum, f) => sum + f.bytes, 0);
  };
  const asked = (file) => requested.some((url) => url.endsWith(`/${file}`));

  await page.goto(`${origin}/call.html${link()}`);
  await page.getByRole('heading', { name: 'Hello Ana' }).waitFor();
  await page.waitForLoadState('networkidle');
  const welcome = await total();
  assert.ok(fetched.some((f) => f.url.endsWith('/call.html') && f.bytes > 0), 'the measure counts the page itself');
  assert.equal(asked(sdk.video), false, 'twilio-video is not fetched for the welcome');
  assert.equal(asked(sdk.chat), false, 'the Conversations SDK is not fetched for the welcome');

  await page.getByRole('button', { name: 'Check my camera and microphone' }).click();
  await page.getByRole('button', { name: 'Go to the waiting room' }).waitFor();
  await page.waitForLoadState('networkidle');
  await page.waitForFunction(() => !document.querySelector('button:disabled'));
  assert.equal(asked(sdk.video), true, "the device check loads twilio-video (its support check)");
  assert.equal(asked(sdk.chat), false, 'the chat SDK waits for the waiting room');
  const check = await total();

  const kB = (n) => (n / 1024).toFixed(1);
  console.log(`# call page, transferred (gzip) before the SDKs: ${kB(welcome)} kB (target under 600 kB)`);
  console.log(`# call page, transferred up to the device check (with twilio-video): ${kB(check)} kB`);
  console.log(`# files at the welcome: ${fetched.filter((f) => !f.url.endsWith(sdk.video)).map((f) => `${path.basename(new URL(f.url).pathname)} ${kB(f.bytes)} kB`).join(', ')}`);
  await context.close();
});
