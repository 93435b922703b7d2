import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import { twilioWithoutEval } from './build/twilio-without-eval';

export default defineConfig({
  // twilio-video evaluates a string on load; the app's and the call page's CSPs forbid that (see the plugin).
  plugins: [svelte(), twilioWithoutEval()],
  resolve: {
    alias: { $lib: fileURLToPath(new URL('./src/lib', import.meta.url)) },
    // Vitest resolves Svelte's browser build so components can mount in jsdom.
    conditions: process.env.VITEST ? ['browser'] : undefined,
  },
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    target: 'safari15',
    outDir: 'dist',
    emptyOutDir: true,
    // Two pages: the app window, and the doctor's call page the app serves on loopback to the system
    // browser where the window has no WebRTC (src/callpage/).
    rollupOptions: { input: { main: 'index.html', call: 'call.html' } },
    // Lists what call.html loads (scripts, styles, the SDK chunks fetched later), so the core can
    // publish or export exactly the patient's page and nothing of the app (core: call_page).
    manifest: 'call-manifest.json',
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/test-setup.ts'],
  },
});
