// Automatic sign-out after the clinic's idle time without keyboard or mouse input. The core
// enforces the same limit on its side; this makes the window react without waiting for a command,
// and tells the core about activity that issues no command (reading, typing a long form).
//
// Only input counts: background refreshes (the Twilio badge, the unread replies, the Texts screen) are passive on the
// Rust side, so the core's idle clock runs on what `sessionTouch` and real commands report.
import { api } from '$lib/platform/api';

const ACTIVITY_EVENTS = ['keydown', 'mousedown', 'wheel', 'touchstart', 'mousemove'] as const;
const CHECK_EVERY_MS = 15_000;
const TOUCH_EVERY_MS = 60_000;

export interface IdleWatch {
  stop(): void;
}

/**
 * How often to tell the core about input: at most once a minute, and often enough that the core
 * hears of it well inside its idle limit (a third of it, checked every 15 s).
 */
export function touchEveryMs(idleMinutes: number): number {
  return Math.min(TOUCH_EVERY_MS, (idleMinutes * 60_000) / 3);
}

/**
 * Watches for input; calls `onIdle` once after the idle time without any, with the minutes that
 * applied. Each touch returns the clinic's current idle time, so a changed setting applies here
 * without signing in again (the core applies it to open sessions too).
 */
export function watchIdle(
  idleMinutes: number,
  onIdle: (minutes: number) => void,
  clock: () => number = Date.now,
): IdleWatch {
  let minutes = idleMinutes;
  let lastInput = clock();
  let lastTouch = clock();
  const noteInput = () => {
    lastInput = clock();
  };
  for (const event of ACTIVITY_EVENTS) window.addEventListener(event, noteInput, { passive: true });
  const timer = window.setInterval(() => {
    const now = clock();
    if (now - lastInput >= minutes * 60_000) {
      stop();
      onIdle(minutes);
    } else if (lastInput > lastTouch && now - lastTouch >= touchEveryMs(minutes)) {
      lastTouch = now;
      api
        .sessionTouch()
        .then((profile) => {
          minutes = profile.idle_timeout_minutes;
        })
        .catch(() => {
          /* a refused touch means the session ended; onSessionEnded handles it */
        });
    }
  }, CHECK_EVERY_MS);
  function stop() {
    window.clearInterval(timer);
    for (const event of ACTIVITY_EVENTS) window.removeEventListener(event, noteInput);
  }
  return { stop };
}
