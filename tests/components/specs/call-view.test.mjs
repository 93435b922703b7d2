// CallView on the FakeRoom, driven with twilio-video's event names from the test. The remote and local
// tracks are painted canvases, so their <video> elements really play.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { drive, finish, openHarness, useHarness } from '../harness.mjs';

let server;
let browser;
useHarness((s, b) => {
  server = s;
  browser = b;
});

const open = (options) => openHarness(browser, server.origin, 'view=call&drive=none', options);
const connect = (page, present = true) =>
  drive(page, (h, present) => h.room.emit('connected', present ? [h.patient] : []), present);
const bars = (page, name) => page.getByRole('img', { name, exact: true });
const videoPlays = (page, selector) =>
  page.waitForFunction((sel) => document.querySelector(sel)?.videoWidth > 0, selector, { timeout: 10_000 });

describe('CallView driven by the FakeRoom', () => {
  test('joining, then the patient named from the clinic’s records, never by their identity', async () => {
    const page = await open();
    await page.getByText('Joining the call…').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Mute' }).isDisabled(), true);

    await connect(page, false);
    await page.getByText('Waiting for Ana Silva to join…').waitFor();
    await drive(page, (h) => h.room.emit('participantConnected', h.patient));
    await page.getByText('Ana Silva’s camera is off.').waitFor();
    assert.equal(await page.getByRole('region', { name: 'Video call with Ana Silva' }).count(), 1);
    assert.equal(await page.getByRole('button', { name: 'Mute' }).isEnabled(), true);
    const identity = await drive(page, (h) => h.patient.identity);
    assert.ok(!(await page.locator('body').innerText()).includes(identity), 'the opaque identity is shown');

    await drive(page, (h) => h.room.emit('participantDisconnected', h.patient));
    await page.getByText('Ana Silva has left the call.').waitFor();
    await finish(page);
  });

  test('trackSubscribed plays the patient’s video; this side’s camera plays small', async () => {
    const page = await open();
    await connect(page);
    await drive(page, (h) => h.room.emit('trackSubscribed', h.paintedTrack('patient', 'Ana Silva', '#35506b'), h.patient));
    const remote = page.getByRole('region', { name: 'Video call with Ana Silva' }).locator('video.remote');
    assert.equal(await remote.getAttribute('aria-label'), 'Ana Silva’s video');
    assert.equal(await remote.getAttribute('data-track'), 'patient');
    await videoPlays(page, 'video.remote');
    assert.equal(await page.getByLabel('Your video').getAttribute('data-track'), 'local-camera');
    await videoPlays(page, 'video[aria-label="Your video"]');
    // The SDK's own record of where the track plays.
    assert.equal(await drive(page, (h) => h.room.camera.attached.length), 1);

    await drive(page, (h) => {
      const track = new h.FakeTrack('video', 'patient-2');
      h.room.emit('trackSubscribed', track, h.patient);
    });
    await page.locator('video.remote[data-track="patient-2"]').waitFor();
    await finish(page);
  });

  test('networkQualityLevelChanged moves the bars and their words, for the patient and for this side', async () => {
    const page = await open();
    await connect(page);
    await bars(page, 'Ana Silva: network quality not known yet').waitFor();
    await drive(page, (h) => h.room.emit('networkQualityLevelChanged', 3, h.patient));
    const patient = bars(page, 'Ana Silva: fair network');
    await patient.waitFor();
    assert.equal(await patient.getAttribute('data-level'), '3');
    assert.equal(await patient.locator('.bar.on').count(), 3);

    await drive(page, (h) => h.room.emit('networkQualityLevelChanged', 1, h.patient));
    const poor = bars(page, 'Ana Silva: very poor network');
    await poor.waitFor();
    assert.equal(await poor.locator('.bar.on').count(), 1);
    assert.match(await poor.getAttribute('class'), /\bbad\b/);

    await drive(page, (h) => h.room.emit('networkQualityLevelChanged', 5, null));
    const mine = bars(page, 'Your connection: excellent network');
    await mine.waitFor();
    assert.equal(await mine.locator('.bar.on').count(), 5);
    await finish(page);
  });

  test('reconnecting shows the banner, reconnected says so, and the call goes on', async () => {
    const page = await open();
    await connect(page);
    const status = page.getByRole('region', { name: 'Video call with Ana Silva' }).getByRole('status').first();
    await drive(page, (h) => h.room.emit('reconnecting', { code: 53001, message: 'Signaling connection disconnected' }));
    await status.getByText(/^Reconnecting… The connection dropped/).waitFor();
    await drive(page, (h) => h.room.emit('reconnected'));
    await status.getByText('Reconnected.', { exact: true }).waitFor();
    assert.equal(await page.getByText(/^Reconnecting…/).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Mute' }).isEnabled(), true);
    await finish(page);
  });

  test('Mute and the camera button switch the session’s microphone and camera', async () => {
    const page = await open();
    await connect(page);
    const room = () => drive(page, (h) => ({ mic: h.room.microphoneEnabled, cam: h.room.cameraEnabled }));

    await page.getByRole('button', { name: 'Mute', pressed: false }).click();
    const unmute = page.getByRole('button', { name: 'Unmute', pressed: true });
    await unmute.waitFor();
    assert.deepEqual(await room(), { mic: false, cam: true });
    await unmute.click();
    await page.getByRole('button', { name: 'Mute', pressed: false }).waitFor();
    assert.deepEqual(await room(), { mic: true, cam: true });

    await page.getByRole('button', { name: 'Turn camera off' }).click();
    await page.getByText('Your camera is off').waitFor();
    assert.deepEqual(await room(), { mic: true, cam: false });
    assert.equal(await page.getByLabel('Your video').count(), 0);
    await page.getByRole('button', { name: 'Turn camera on' }).click();
    await page.getByLabel('Your video').waitFor();
    assert.deepEqual(await room(), { mic: true, cam: true });

    // A camera that will not start (another program holds it) leaves it off, with a sentence.
    await page.getByRole('button', { name: 'Turn camera off' }).click();
    await drive(page, (h) => (h.room.failCameraStart = 'NotReadableError'));
    await page.getByRole('button', { name: 'Turn camera on' }).click();
    await page.getByText('The camera could not start. It may be in use by another program.').waitFor();
    assert.deepEqual(await room(), { mic: true, cam: false });
    await finish(page);
  });

  test('End for everyone asks first; only the confirmation calls onend', async () => {
    const page = await open();
    await connect(page);
    const log = () => drive(page, (h) => [...h.log]);
    const dialog = page.getByRole('dialog', { name: 'End the consultation for everyone?' });

    await page.getByRole('button', { name: 'End for everyone' }).click();
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /Ana Silva will be disconnected and the room closed/);
    assert.deepEqual(await log(), []);
    await dialog.getByRole('button', { name: 'Keep talking' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.deepEqual(await log(), []);
    assert.equal(await drive(page, (h) => h.room.disconnects), 0);

    await page.getByRole('button', { name: 'End for everyone' }).click();
    await dialog.getByRole('button', { name: 'End for everyone' }).click();
    await page.getByText('The consultation has ended.').waitFor();
    assert.deepEqual(await log(), ['end']);
    assert.equal(await drive(page, (h) => h.room.disconnects), 1);
    assert.equal(await page.getByRole('button', { name: 'Rejoin' }).count(), 0);
    await finish(page);
  });

  test('disconnected with 53118 (the room completed from the other side) reads as the end', async () => {
    const page = await open();
    await connect(page);
    await drive(page, (h) => h.room.emit('disconnected', { code: 53118, message: 'Room completed' }));
    await page.getByText('The consultation has ended.').waitFor();
    assert.equal(await page.getByRole('group', { name: 'Call controls' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Rejoin' }).count(), 0);
    assert.equal(await page.getByText('Twilio 53118').count(), 0);
    await finish(page);
  });

  test('cut off with another error: the reason with its code, and Rejoin', async () => {
    const page = await open();
    await connect(page);
    await drive(page, (h) => h.room.emit('disconnected', { code: 53001, message: 'Signaling connection disconnected.' }));
    await page.getByText('The call was cut off.').waitFor();
    assert.match(await page.locator('.ended').innerText(), /Signaling connection disconnected\. \(Twilio 53001\)/);
    await page.getByRole('button', { name: 'Rejoin' }).click();
    assert.deepEqual(await drive(page, (h) => [...h.log]), ['rejoin']);
    await finish(page);
  });

  test('Leave leaves the room without ending it', async () => {
    const page = await open();
    await connect(page);
    await page.getByRole('button', { name: 'Leave' }).click();
    await page.getByText('You left the call.').waitFor();
    assert.deepEqual(await drive(page, (h) => [...h.log]), ['leave']);
    assert.equal(await drive(page, (h) => h.room.disconnects), 1);
    await finish(page);
  });

  test('the timer counts from connected (on Playwright’s clock, not the wall clock)', async () => {
    const page = await open({ setup: (p) => p.clock.install({ time: new Date('2026-11-23T10:00:00Z') }) });
    const timer = page.getByRole('timer');
    await connect(page);
    await page.getByRole('timer', { name: 'Call time 0:00' }).waitFor();
    await page.clock.runFor(65_000);
    await page.getByRole('timer', { name: 'Call time 1:05' }).waitFor();
    assert.equal(await timer.textContent(), '1:05');
    await page.clock.runFor(3600_000);
    await page.getByRole('timer', { name: 'Call time 1:01:05' }).waitFor();
    await finish(page);
  });
});
