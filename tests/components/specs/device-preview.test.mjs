// DevicePreview on the browser's own navigator.mediaDevices: Chromium's fake camera (a moving test
// pattern) and fake microphone (a beep), through real getUserMedia and enumerateDevices. Joining goes to
// the FakeCallBackend.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { finish, launch, openHarness, useHarness } from '../harness.mjs';

const PREVIEW = 'video[aria-label="Your camera preview"]';

let server;
let browser;
useHarness((s, b) => {
  server = s;
  browser = b;
});

const open = () => openHarness(browser, server.origin, 'view=preview');
const playing = (page) =>
  page.waitForFunction((sel) => document.querySelector(sel)?.videoWidth > 0, PREVIEW, { timeout: 10_000 });
const devices = (page) =>
  page.evaluate(async () => (await navigator.mediaDevices.enumerateDevices()).map(({ kind, deviceId, label }) => ({ kind, deviceId, label })));
const optionsOf = (page, label) =>
  page.getByLabel(label, { exact: true }).locator('option').evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent })));
const joinLog = (page) => page.evaluate(() => window.harness.log.filter((l) => l.startsWith('join ')).map((l) => JSON.parse(l.slice(5))));

describe('DevicePreview with Chromium’s fake camera and microphone', () => {
  test('the preview plays the camera', async () => {
    const page = await open();
    await playing(page);
    const video = await page.locator(PREVIEW).evaluate((v) => ({
      width: v.videoWidth, height: v.videoHeight, paused: v.paused, track: v.srcObject?.getVideoTracks()[0]?.label,
    }));
    assert.ok(video.width > 0 && video.height > 0, `video size ${video.width}x${video.height}`);
    assert.equal(video.paused, false);
    assert.match(video.track, /^fake_device_/);
    await finish(page);
  });

  test('the camera, microphone and speaker lists come from enumerateDevices, the defaults chosen', async () => {
    const page = await open();
    await playing(page);
    await page.getByLabel('Microphone', { exact: true }).waitFor();
    const all = await devices(page);
    const listed = (kind) => all.filter((d) => d.kind === kind).map((d) => ({ value: d.deviceId, text: d.label }));
    assert.equal(listed('videoinput').length, 2, 'Chromium was started with two fake cameras');
    assert.deepEqual(await optionsOf(page, 'Camera'), listed('videoinput'));
    assert.deepEqual(await optionsOf(page, 'Microphone'), listed('audioinput'));
    assert.deepEqual(await optionsOf(page, 'Speaker'), listed('audiooutput'));
    // The box shows the device actually in use, not an empty choice.
    const inUse = await page.locator(PREVIEW).evaluate((v) => v.srcObject.getVideoTracks()[0].getSettings().deviceId);
    assert.equal(await page.getByLabel('Camera', { exact: true }).inputValue(), inUse);
    assert.notEqual(await page.getByLabel('Microphone', { exact: true }).inputValue(), '');
    await finish(page);
  });

  test('the microphone level meter moves with the fake microphone’s beep', async () => {
    const page = await open();
    const meter = page.locator('meter');
    await meter.waitFor();
    assert.equal(await page.getByText('Say something: the bar should move.').count(), 1);
    // The fake microphone beeps periodically; wait for a beep to reach the meter.
    await page.waitForFunction(() => document.querySelector('meter').value > 0.05, null, { timeout: 10_000 });
    await finish(page);
  });

  test('the chosen camera and microphone are switched to, and Join passes their ids on', async () => {
    const page = await open();
    await playing(page);
    const all = await devices(page);
    const camera = all.filter((d) => d.kind === 'videoinput')[1];
    const microphone = all.find((d) => d.kind === 'audioinput' && d.label === 'Fake Audio Input 2');
    assert.ok(camera && microphone, JSON.stringify(all));

    await page.getByLabel('Camera', { exact: true }).selectOption(camera.deviceId);
    await page.waitForFunction(
      ([sel, label]) => document.querySelector(sel)?.srcObject?.getVideoTracks()[0]?.label === label,
      [PREVIEW, camera.label],
    );
    await playing(page);
    await page.getByLabel('Microphone', { exact: true }).selectOption(microphone.deviceId);
    await page.waitForFunction(
      ([sel, label]) => document.querySelector(sel)?.srcObject?.getAudioTracks()[0]?.label === label,
      [PREVIEW, microphone.label],
    );

    const joinButton = page.getByRole('button', { name: 'Join the call' });
    await joinButton.click();
    const [joined] = await joinLog(page);
    assert.equal(joined.cameraId, camera.deviceId);
    assert.equal(joined.microphoneId, microphone.deviceId);
    assert.equal(joined.cameraOff, false);
    assert.ok(joined.speakerId, 'Chromium can choose the speaker, so the default one is passed');
    // The join went to the (fake) backend with those devices, and the preview let go of its own tracks.
    assert.deepEqual(await page.evaluate(() => window.harness.room.devices), joined);
    assert.equal(await page.locator(PREVIEW).evaluate((v) => v.srcObject), null);
    await finish(page);
  });

  test('“Start with my camera off” joins with the camera off', async () => {
    const page = await open();
    await playing(page);
    await page.getByLabel('Start with my camera off').check();
    await page.getByText('Camera off', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Join the call' }).click();
    const [joined] = await joinLog(page);
    assert.equal(joined.cameraOff, true);
    await finish(page);
  });
});

describe('DevicePreview when the browser refuses the camera and microphone', () => {
  let refusing;
  before(async () => {
    // Without --use-fake-ui-for-media-stream headless Chromium answers every permission request with no.
    refusing = await launch({ prompt: 'deny' });
  });
  after(() => refusing?.close());

  test('says how to allow them, keeps Join disabled, and Try again works once allowed', async () => {
    const page = await openHarness(refusing, server.origin, 'view=preview');
    const alert = page.getByRole('alert');
    await alert.getByText('The camera and microphone are blocked for this page.').waitFor();
    assert.match(await alert.textContent(), /In Chrome, click the camera icon .* allow the camera and microphone, then press Try again\./);
    assert.equal(await page.getByRole('button', { name: 'Join the call' }).isDisabled(), true);
    assert.equal(await page.locator(PREVIEW).isHidden(), true);

    await page.context().grantPermissions(['camera', 'microphone'], { origin: server.origin });
    await alert.getByRole('button', { name: 'Try again' }).click();
    await playing(page);
    await page.getByRole('button', { name: 'Join the call' }).waitFor({ state: 'visible' });
    await page.waitForFunction(() => !document.querySelector('button.join').disabled);
    assert.equal(await page.getByRole('alert').count(), 0);
    await finish(page);
  });

  test('the harness’s stand-in refusal (testing/media.ts) gives the same help', async () => {
    const page = await openHarness(browser, server.origin, 'view=preview&media=denied');
    await page.getByText('The camera and microphone are blocked for this page.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Join the call' }).isDisabled(), true);
    await finish(page);
  });
});
