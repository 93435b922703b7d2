// Automatic sign-out after the clinic's idle time without keyboard or mouse input. The core
// enforces the same limit on its side; this makes the window react without waiting for a command,
// and tells the core about activity that issues no command (reading, typing a long form).
import { api } from '$lib/platform/api';

const ACTIVITY_EVENTS = ['keydown', 'mousedown', 'wheel', 'touchstart', 'mousemove'] as const;
const CHECK_EVERY_MS = 15_000;
const TOUCH_EVERY_MS = 60_000;

export interface IdleWatch {
  stop(): void;
}

/** Watches for input; calls `onIdle` once after `idleMinutes` without any. */
export function watchIdle(idleMinutes: number, onIdle: () => void, clock: () => number = Date.now): IdleWatch {
  let lastInput = clock();
  let lastTouch = clock();
  const noteInput = () => {
    lastInput = clock();
  };
  for (const event of ACTIVITY_EVENTS) window.addEventListener(event, noteInput, { passive: true });
  const timer = window.setInterval(() => {
    const now = clock();
    if (now - lastInput >= idleMinutes * 60_000) {
      stop();
      onIdle();
    } else if (lastInput > lastTouch && now - lastTouch >= TOUCH_EVERY_MS) {
      lastTouch = now;
      api.sessionTouch().catch(() => {
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
