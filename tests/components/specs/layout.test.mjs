// The three components at a phone's width (390 px) and a desktop's, with screenshots in tests/artifacts/
// (call-components-*.png) for a person to look at. What a test can check is checked: nothing is wider
// than the screen, no control's text is cut off, and the controls that matter are on screen.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DESKTOP, PHONE, finish, openHarness, screenshot, useHarness } from '../harness.mjs';

let server;
let browser;
useHarness((s, b) => {
  server = s;
  browser = b;
});

/** Elements sticking out past the viewport's right edge, and controls whose own text is clipped. */
function layoutProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > width) problems.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
    const describe = (el) => `${el.tagName.toLowerCase()} “${(el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 40)}”`;
    for (const el of document.querySelectorAll('#app *, dialog[open] *')) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || el.closest('.sr-only')) continue;
      if (box.right > width + 0.5 || box.left < -0.5) problems.push(`${describe(el)} outside the screen (${Math.round(box.left)}–${Math.round(box.right)} of ${width})`);
    }
    for (const el of document.querySelectorAll('button, select, label, .btn')) {
      if (el.getBoundingClientRect().width === 0 || el.closest('.sr-only')) continue;
      if (el.scrollWidth > el.clientWidth + 1) problems.push(`${describe(el)} text cut off (${el.scrollWidth} > ${el.clientWidth})`);
    }
    return problems;
  });
}

async function inView(page, locator) {
  const box = await locator.boundingBox();
  const viewport = page.viewportSize();
  assert.ok(box && box.x >= 0 && box.x + box.width <= viewport.width, `${locator} is off screen: ${JSON.stringify(box)}`);
}

const playing = (page, selector) =>
  page.waitForFunction((sel) => document.querySelector(sel)?.videoWidth > 0, selector, { timeout: 10_000 });

for (const [size, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
  describe(`At a ${size}’s width (${viewport.width} px)`, () => {
    test('DevicePreview with the fake camera', async () => {
      const page = await openHarness(browser, server.origin, 'view=preview', { viewport });
      await playing(page, 'video[aria-label="Your camera preview"]');
      await page.locator('meter').waitFor();
      await inView(page, page.getByRole('button', { name: 'Join the call' }));
      const video = await page.locator('video').boundingBox();
      // The camera picture is the first thing seen: a real size, not a sliver.
      assert.ok(video.width >= Math.min(300, viewport.width * 0.7), `preview ${video.width} px wide`);
      assert.deepEqual(await layoutProblems(page), []);
      await screenshot(page, `call-components-${size}-preview`);
      await finish(page);
    });

    test('CallView in a call, reconnecting, and asking before ending', async () => {
      const page = await openHarness(browser, server.origin, 'view=call', { viewport });
      await playing(page, 'video.remote');
      await playing(page, 'video[aria-label="Your video"]');
      for (const name of ['Mute', 'Turn camera off', 'Leave', 'End for everyone']) await inView(page, page.getByRole('button', { name }));
      assert.deepEqual(await layoutProblems(page), []);
      await screenshot(page, `call-components-${size}-call`);

      await page.evaluate(() => window.harness.room.emit('reconnecting'));
      const banner = page.getByText(/^Reconnecting…/);
      await banner.waitFor();
      await inView(page, banner);
      // The banner is not hidden under this side's small picture.
      const [b, self] = [await banner.boundingBox(), await page.locator('.self').boundingBox()];
      assert.ok(b.y + b.height <= self.y || b.x + b.width <= self.x, 'the reconnecting banner runs under the small picture');
      assert.deepEqual(await layoutProblems(page), []);
      await screenshot(page, `call-components-${size}-call-reconnecting`);

      await page.evaluate(() => window.harness.room.emit('reconnected'));
      await page.getByRole('button', { name: 'End for everyone' }).click();
      const dialog = page.getByRole('dialog', { name: 'End the consultation for everyone?' });
      await dialog.waitFor();
      await inView(page, dialog.getByRole('button', { name: 'End for everyone' }));
      assert.deepEqual(await layoutProblems(page), []);
      await screenshot(page, `call-components-${size}-call-end-dialog`);
      await finish(page);
    });

    test('ChatPanel with history, someone typing, and a warning', async () => {
      const page = await openHarness(browser, server.origin, 'view=chat', { viewport });
      await page.getByText('Ana Silva is typing…').waitFor();
      await page.getByLabel('Message', { exact: true }).fill('Call me on 07700 900123 if it spreads');
      await page.getByLabel('Message', { exact: true }).press('Enter');
      await page.getByRole('button', { name: 'Send anyway' }).waitFor();
      for (const name of ['Send anyway', 'Edit the message']) await inView(page, page.getByRole('button', { name }));
      await inView(page, page.getByRole('button', { name: 'Send', exact: true }));
      assert.deepEqual(await layoutProblems(page), []);
      await screenshot(page, `call-components-${size}-chat`);
      await finish(page);
    });
  });
}

test('all three together at a desktop’s width', async () => {
  const page = await openHarness(browser, server.origin, 'view=all', { viewport: DESKTOP });
  await playing(page, 'video[aria-label="Your camera preview"]');
  await playing(page, 'video.remote');
  // The call and the chat sit side by side on a desktop.
  const [call, chat] = [await page.locator('section.call').boundingBox(), await page.locator('section.chat').boundingBox()];
  assert.ok(chat.x >= call.x + call.width, `chat at x=${chat.x}, call ends at ${call.x + call.width}`);
  assert.deepEqual(await layoutProblems(page), []);
  await screenshot(page, 'call-components-desktop-all');
  await finish(page);
});
