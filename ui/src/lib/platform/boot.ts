// The start-up status the shell computed before the page ran (src-tauri/src/window.rs defines it
// with an initialization script), so the first frame is already the right screen instead of a
// spinner waiting for `app_status`. Absent in the browser and component tests: callers fall back
// to `api.appStatus()`, which stays the source of truth either way.
import type { AppStatus } from './bindings/AppStatus';

declare global {
  interface Window {
    __CLINICDESK_BOOT__?: AppStatus;
  }
}

export function bootStatus(): AppStatus | null {
  return (typeof window !== 'undefined' && window.__CLINICDESK_BOOT__) || null;
}
