// The call page runs under a CSP with no 'unsafe-eval' (core: call_host). twilio-video evaluates a
// string when it loads, so the build swaps that one module (ui/build/twilio-without-eval.ts); these
// checks fail if the SDK moves or changes the module, so the swap cannot silently stop applying.
import { describe, expect, it } from 'vitest';
import { DYNAMIC_IMPORT_REPLACEMENT, twilioWithoutEval } from '../../../build/twilio-without-eval';

const sdk = import.meta.glob(
  ['/node_modules/twilio-video/es5/util/dynamicimport.js', '/node_modules/twilio-video/es5/noisecancellationadapter.js'],
  { query: '?raw', import: 'default', eager: true },
) as Record<string, string>;

describe('twilio-video under a CSP without eval', () => {
  it('still has the one module that evaluates a string, used only for noise-cancellation plugins', () => {
    expect(sdk['/node_modules/twilio-video/es5/util/dynamicimport.js']).toContain("new Function('url', 'return import(url);')");
    expect(sdk['/node_modules/twilio-video/es5/noisecancellationadapter.js']).toContain("require('./util/dynamicimport')");
  });

  it('is built with that module replaced by one without eval', async () => {
    const load = twilioWithoutEval().load as (id: string) => string | null;
    for (const id of ['/work/ui/node_modules/twilio-video/es5/util/dynamicimport.js', 'C:\\ui\\node_modules\\twilio-video\\es5\\util\\dynamicimport.js']) {
      expect(load(id)).toBe(DYNAMIC_IMPORT_REPLACEMENT);
    }
    expect(load('/work/ui/node_modules/twilio-video/es5/util/dynamicimport.js?raw')).toBeNull();
    expect(load('/work/ui/node_modules/twilio-video/es5/index.js')).toBeNull();
    expect(DYNAMIC_IMPORT_REPLACEMENT).not.toMatch(/Function\(|eval\(/);

    const module = { exports: null as unknown as (m: string) => Promise<unknown> };
    new Function('module', DYNAMIC_IMPORT_REPLACEMENT)(module); // the test runs without a CSP
    await expect(module.exports('krisp.mjs')).rejects.toThrow('plugins are not loaded in ClinicDesk');
  });
});
