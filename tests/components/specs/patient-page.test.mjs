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

const open = (link, viewport = SMALL_PHONE) => openHarness(browser, server.origin, `view=patient&link=${link}`, { viewport });
/** Nothing sticks out sideways at this size. */
const fitsWidth = (page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

describe("the patient's page", () => {
  test('welcome, device check, waiting for the doctor, then the call — on a 360 px phone', async () => {
    const page = await open('open');
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
    await screenshot(page, 'patient-phone-4-call');
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
