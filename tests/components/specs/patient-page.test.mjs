// The patient's page (ui/src/patientpage/) in Chromium at a 360 px phone and a desktop size, on the
// harness's doubles: the welcome from the link, the device check on Chromium's fake camera, the wait
// while the doctor has not opened the room (Twilio's 53106), joining by itself, and an expired link.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { drive, finish, openHarness, screenshot, useHarness, DESKTOP } from '../harness.mjs';

const SMALL_PHONE = { width: 360, height: 740 };

let server;
let browser;
useHarness((s, b) => {
  server = s;
  browser = b;
});

const open = (link, viewport = SMALL_PHONE, setup) => openHarness(browser, server.origin, `view=patient&link=${link}`, { viewport, setup });
/** Nothing sticks out sideways at this size. */
const fitsWidth = (page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

describe("the patient's page", () => {
  test('welcome, device check, waiting for the doctor, then the call — on a 360 px phone', async () => {
    // Something the website had stored before the visit (a clinic serving the page from its own site).
    const page = await open('open', SMALL_PHONE, (p) => p.addInitScript(() => localStorage.setItem('clinic-site', 'keep')));
    await page.getByRole('heading', { name: 'Hello Ana' }).waitFor();
    assert.ok(await page.getByText('Riverside Clinic').isVisible());
    assert.ok(await fitsWidth(page), 'the welcome fits a 360 px screen');
    await screenshot(page, 'patient-phone-1-welcome');

    await page.getByRole('button', { name: 'Check my camera and microphone' }).click();
    const enter = page.getByRole('button', { name: 'Go to the waiting room' });
    await page.waitForFunction(() => document.querySelector('video[aria-label="Your camera preview"]')?.videoWidth > 0);
    await assert.doesNotReject(enter.waitFor());
    await page.waitForFunction(() => !document.querySelector('button:disabled'));
    assert.ok(await fitsWidth(page), 'the device check fits a 360 px screen');
    await screenshot(page, 'patient-phone-2-device-check');
    await enter.click();

    // The doctor has not started: Twilio has no such room yet, so the page waits and asks again.
    const first = await drive(page, (h) => { const room = h.room; room.emit('disconnected', { code: 53106, message: 'Room not found' }); return h.calls.rooms.length; });
    assert.equal(first, 1);
    await page.getByText('Dr Amara Okafor will let you in shortly.').waitFor();
    // The waiting room: joined the consultation's chat by the room's name, and told the clinic.
    const told = await page.waitForFunction(() => {
      const c = window.harness.patientChats.conversations[0];
      return c?.attributes.waiting_since ? { name: c.sid, ...c.attributes } : null;
    }).then((h) => h.jsonValue());
    assert.equal(told.name, 'CD-room', "the conversation is found by the room's name");
    assert.equal(told.device_check, 'passed');
    assert.ok(Math.abs(Date.parse(told.waiting_since) - Date.now()) < 60_000, told.waiting_since);
    // The doctor writes before starting; the patient answers from the waiting room.
    await drive(page, (h) => { h.patientChats.last.receive({ author: 'd-7a1b90', body: 'I am running 5 minutes late, sorry.' }); });
    await page.getByText('I am running 5 minutes late, sorry.').waitFor();
    assert.ok(await page.getByText('Dr Amara Okafor', { exact: true }).first().isVisible(), "the doctor's messages carry the doctor's name");
    await page.getByRole('textbox', { name: /message/i }).fill('No problem, I am here.');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => window.harness.patientChats.last.messages.some((m) => m.body === 'No problem, I am here.' && m.author === 'p-5f0c2e'));
    assert.ok(await fitsWidth(page), 'the waiting room with its chat fits a 360 px screen');
    await screenshot(page, 'patient-phone-3-waiting');
    await page.waitForFunction(() => window.harness.calls.rooms.length === 2);
    const joined = await drive(page, (h) => {
      const doctor = { sid: 'PA0002', identity: 'd-7a1b90' };
      h.room.camera.stream = null;
      h.room.emit('connected', [doctor]);
      h.room.emit('trackSubscribed', h.paintedTrack('doctor', 'Dr Amara Okafor', '#35506b'), doctor);
      return { token: h.room.token.split('.').length, room: h.room.roomName };
    });
    assert.deepEqual(joined, { token: 3, room: 'CD-room' }, "the patient's own token, for the link's room");
    await page.getByRole('button', { name: /leave/i }).waitFor();
    // The call view came after the connection: it must still know it (replayed), and play the doctor.
    await page.waitForSelector('video[data-track="doctor"]');
    assert.equal(await page.getByText('Joining the call').count(), 0, 'the view knows the call is connected');
    assert.ok(await fitsWidth(page), 'the call fits a 360 px screen');
    assert.ok(await page.getByText('No problem, I am here.').isVisible(), 'the chat goes on in the call');
    await screenshot(page, 'patient-phone-4-call');

    // Leaving tells the clinic the patient is no longer there, and leaves nothing on the phone: what
    // the SDKs might have kept (local and session storage, IndexedDB) is removed.
    await page.evaluate(() => new Promise((resolve) => {
      localStorage.setItem('loglevel:twilio-video', 'warn');
      sessionStorage.setItem('twilio-sync', '{}');
      indexedDB.open('twilio-conversations-cache').onsuccess = (event) => { event.target.result.close(); resolve(); };
    }));
    await page.getByRole('button', { name: /leave/i }).click();
    await page.getByText('You have left the consultation.').waitFor();
    await page.waitForFunction(async () => localStorage.length === 1 && sessionStorage.length === 0 && (await indexedDB.databases()).length === 0);
    assert.equal(await page.evaluate(() => localStorage.getItem('clinic-site')), 'keep', "the website's own storage stays");
    const left = await page.waitForFunction(() => window.harness.patientChats.conversations[0].attributes.left_at ?? null).then((h) => h.jsonValue());
    assert.ok(Date.parse(left) >= Date.parse(told.waiting_since));
    await finish(page);
  });

  test('a refused or missing camera gets help in words a patient follows, on a 360 px phone', async () => {
    const refused = await openHarness(browser, server.origin, 'view=patient&link=open&media=denied', { viewport: SMALL_PHONE });
    await refused.getByRole('button', { name: 'Check my camera and microphone' }).click();
    await refused.getByText('The camera and microphone are blocked for this page.').waitFor();
    assert.equal(await refused.getByRole('button', { name: 'Go to the waiting room' }).isDisabled(), true, 'no way on without them');
    assert.ok(await fitsWidth(refused), 'the help fits a 360 px screen');
    await screenshot(refused, 'patient-phone-2b-camera-blocked');
    await finish(refused);

    const noCamera = await openHarness(browser, server.origin, 'view=patient&link=open&media=no-camera', { viewport: SMALL_PHONE });
    await noCamera.getByRole('button', { name: 'Check my camera and microphone' }).click();
    await noCamera.getByText('No camera was found.').waitFor();
    await screenshot(noCamera, 'patient-phone-2c-no-camera');
    // Sound alone still makes a consultation: the patient goes on, and the clinic sees it.
    await noCamera.getByRole('button', { name: 'Go to the waiting room' }).click();
    const told = await noCamera.waitForFunction(() => window.harness.patientChats.conversations[0]?.attributes.device_check ?? null)
      .then((h) => h.jsonValue());
    assert.equal(told, 'camera_off');
    await finish(noCamera);
  });

  test('a waiting room whose chat is not open yet waits without it, and the chat comes when it opens', async () => {
    const page = await openHarness(browser, server.origin, 'view=patient&link=open&chat=missing', { viewport: SMALL_PHONE });
    await page.getByRole('button', { name: 'Check my camera and microphone' }).click();
    await page.waitForFunction(() => !document.querySelector('button:disabled') && document.querySelector('video[aria-label="Your camera preview"]')?.videoWidth > 0);
    await page.getByRole('button', { name: 'Go to the waiting room' }).click();
    await page.getByText('Dr Amara Okafor will let you in shortly.').waitFor();
    assert.equal(await page.getByRole('textbox', { name: /message/i }).count(), 0, 'no chat while its conversation is missing');
    // The doctor has not started (53106, each time the page asks): the page also asks for the chat
    // again (at most every chatRetryMs), and this time the conversation is there.
    const box = page.getByRole('textbox', { name: /message/i });
    for (let round = 0; round < 40 && (await box.count()) === 0; round += 1) {
      await drive(page, (h) => h.room.emit('disconnected', { code: 53106, message: 'Room not found' }));
      await page.waitForFunction((n) => window.harness.calls.rooms.length > n, round + 1).catch(() => {});
    }
    await box.waitFor();
    assert.equal(await page.evaluate(() => window.harness.patientChats.conversations.length), 1, 'one chat, opened on a later try');
    const attributes = await page.evaluate(() => window.harness.patientChats.last.attributes);
    assert.equal(attributes.device_check, 'passed');
    await finish(page);
  });

  test('an expired link says whom to call, on a phone and on a desktop', async () => {
    for (const [viewport, name] of [[SMALL_PHONE, 'patient-phone-5-expired'], [DESKTOP, 'patient-desktop-expired']]) {
      const page = await open('over', viewport);
      const alert = page.getByRole('alert');
      await alert.waitFor();
      assert.match(await alert.innerText(), /This link has expired\. To see Dr Amara Okafor, please call Riverside Clinic on 020 7946 0000\./);
      assert.equal(await page.getByRole('button', { name: 'Check my camera and microphone' }).count(), 0);
      await screenshot(page, name);
      await finish(page);
    }
  });

  test('an early link says when it opens', async () => {
    const page = await open('early');
    const status = page.getByRole('status');
    await status.waitFor();
    assert.match(await status.innerText(), /This link opens at .* 15 minutes before your appointment/);
    await finish(page);
  });
});
