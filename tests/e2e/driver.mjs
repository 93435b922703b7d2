// Starts tauri-driver (which starts WebKitWebDriver and the real ClinicDesk binary) and returns a
// WebdriverIO session on the app's real window. Needs DISPLAY (Xvfb), an unlocked Secret Service
// and CLINICDESK_APP_BINARY; scripts/test.sh provides all three.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { remote } from 'webdriverio';

export const ARTIFACTS = path.resolve(import.meta.dirname, '../artifacts');

export async function startApp({ dataDir }) {
  const application = process.env.CLINICDESK_APP_BINARY;
  if (!application) throw new Error('Set CLINICDESK_APP_BINARY to the built clinicdesk-app (scripts/test.sh does).');
  const driverBin = process.env.TAURI_DRIVER ?? 'tauri-driver';
  const port = 4444 + Math.floor(Math.random() * 500) * 2;
  const driver = spawn(driverBin, ['--port', String(port), '--native-port', String(port + 1)], {
    env: { ...process.env, CLINICDESK_DATA_DIR: dataDir },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let exited = false;
  driver.on('exit', () => (exited = true));
  // tauri-driver listens within a second; retry the session until it does.
  let lastError;
  for (let attempt = 0; attempt < 40 && !exited; attempt++) {
    try {
      const browser = await remote({
        hostname: '127.0.0.1',
        port,
        logLevel: 'warn',
        capabilities: { 'tauri:options': { application } },
      });
      return { browser, stop: async () => { await browser.deleteSession().catch(() => {}); driver.kill(); } };
    } catch (error) {
      lastError = error;
      await sleep(250);
    }
  }
  driver.kill();
  throw new Error(`tauri-driver did not start a session: ${lastError}`);
}

export async function screenshot(browser, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await writeFile(file, Buffer.from(await browser.takeScreenshot(), 'base64'));
  return file;
}

/** Sets an input's value the way typing would, for inputs WebDriver cannot type into (date, time, select). */
export async function setValue(browser, selector, value) {
  const element = await browser.$(selector);
  await element.waitForExist({ timeout: 10_000 });
  await browser.execute(
    (el, v) => {
      el.value = v;
      el.dispatchEvent(new Event('input', { bubbles: true }));
      el.dispatchEvent(new Event('change', { bubbles: true }));
    },
    element,
    value,
  );
}

export async function type(browser, selector, text) {
  const element = await browser.$(selector);
  await element.waitForDisplayed({ timeout: 10_000 });
  await element.setValue(text);
}

export async function click(browser, selector) {
  const element = await browser.$(selector);
  await element.waitForClickable({ timeout: 10_000 });
  await element.click();
}

export async function textOf(browser, selector, timeout = 10_000) {
  const element = await browser.$(selector);
  await element.waitForDisplayed({ timeout });
  return element.getText();
}
