// The seam's two promises, checked on the source: nothing under call/ reaches the platform (so the
// system-browser host and the patient's page can run it), and the SDKs are only ever imported lazily.
import { describe, expect, it } from 'vitest';

const sources = import.meta.glob(['../**/*.ts', '../**/*.svelte', '!../__tests__/**'], {
  query: '?raw', import: 'default', eager: true,
}) as Record<string, string>;

describe('the call seam', () => {
  it('has sources to check', () => {
    expect(Object.keys(sources)).toEqual(expect.arrayContaining(['../twilio.ts', '../conversations.ts', '../CallView.svelte']));
  });

  it('imports nothing from the platform or Tauri', () => {
    for (const [file, text] of Object.entries(sources)) {
      expect(text, file).not.toMatch(/from ['"](\$lib\/platform|@tauri-apps)/);
      expect(text, file).not.toMatch(/import\(['"](\$lib\/platform|@tauri-apps)/);
    }
  });

  it('imports the SDKs only as types statically, and as values only by dynamic import', () => {
    const statement = /^\s*import\s+([^;]*?)\s+from\s+['"]([^'"]+)['"]/gm;
    let checked = 0;
    for (const [file, text] of Object.entries(sources)) {
      for (const [, what, module] of text.matchAll(statement)) {
        if (module !== 'twilio-video' && module !== '@twilio/conversations') continue;
        checked += 1;
        expect(what, `${file} imports ${module}`).toMatch(/^type\s/);
      }
    }
    expect(checked).toBeGreaterThanOrEqual(2); // the adapters' type imports were seen
    expect(sources['../twilio.ts']).toContain("import('twilio-video')");
    expect(sources['../conversations.ts']).toContain("import('@twilio/conversations')");
  });
});
