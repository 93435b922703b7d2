// The call components' harness page (ui/call-harness.html) served by Vite from ui/ with ui/vite.config.ts,
// and Debian's Chromium with its fake camera and microphone, driven by playwright-core.
// Each spec file starts one server and one browser (node --test runs the files one after another).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

export const UI = path.resolve(import.meta.dirname, '../../ui');
export const ARTIFACTS = path.resolve(import.meta.dirname, '../artifacts');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** One server and one browser for the calling spec file: started before its tests, closed after. */
export function useHarness(ready) {
  let server;
  let browser;
  before(async () => {
    server = await startServer();
    browser = await launch();
    ready(server, browser);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });
}

/** Starts Vite's dev server on ui/ on a free loopback port. Needs ui/node_modules (npm ci in ui/). */
export async function startServer() {
  let entry;
  try {
    entry = createRequire(path.join(UI, 'package.json')).resolve('vite');
  } catch {
    throw new Error(`Vite is not installed in ${UI}: run npm ci there first.`);
  }
  const { createServer } = await import(pathToFileURL(entry).href);
  const server = await createServer({
    root: UI,
    configFile: path.join(UI, 'vite.config.ts'),
    logLevel: 'warn',
    clearScreen: false,
    // The config's fixed port (5173) is for `npm run dev`; tests take any free one and no file watching.
    server: { host: '127.0.0.1', port: 0, strictPort: false, watch: null, hmr: false },
  });
  await server.listen();
  const address = server.httpServer.address();
  return { origin: `http://127.0.0.1:${address.port}`, close: () => server.close() };
}

/**
 * Chromium with the fake camera and microphone. `prompt: 'allow'` adds --use-fake-ui-for-media-stream (the
 * permission prompt is accepted); `'deny'` leaves it out, and headless Chromium then refuses every request.
 */
export async function launch({ prompt = 'allow' } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless=new',
      '--no-sandbox',
      // Two cameras, so the preview offers a choice (it hides the camera list when there is one).
      '--use-fake-device-for-media-stream=device-count=2',
      ...(prompt === 'allow' ? ['--use-fake-ui-for-media-stream'] : []),
    ],
  });
}

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 900 };

/**
 * Opens the harness with `query` (e.g. 'view=call&drive=none') in a new context and waits until the
 * components are mounted; `setup(page)` runs before the page loads (e.g. to install Playwright's clock).
 * Page errors, console errors and failed loads are collected in `page.problems` (see `finish`).
 */
export async function openHarness(browser, origin, query, { viewport = DESKTOP, setup, ...contextOptions } = {}) {
  const context = await browser.newContext({ viewport, ...contextOptions });
  // Waiting for something on screen is how these tests assert; a failure should not take 30 s to say so.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  await setup?.(page);
  page.problems = [];
  page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // A failed load is reported below with its address.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      page.problems.push(`console error: ${message.text()}`);
    }
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) {
      page.problems.push(`HTTP ${response.status()}: ${response.url()}`);
    }
  });
  await page.goto(`${origin}/call-harness.html?${query}`);
  await page.waitForFunction(() => window.harness?.ready === true);
  return page;
}

/** Runs `fn(harness, arg)` in the page (the doubles live there). */
export function drive(page, fn, arg) {
  return page.evaluate(([source, a]) => new Function('harness', 'arg', `return (${source})(harness, arg)`)(window.harness, a), [fn.toString(), arg]);
}

export async function screenshot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Ends a test's page: nothing went wrong in the page (errors, failed loads), and its context is closed. */
export async function finish(page) {
  const problems = [...page.problems];
  await page.context().close();
  assert.deepEqual(problems, [], 'the page reported problems');
}
