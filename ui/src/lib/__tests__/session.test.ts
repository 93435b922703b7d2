import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeBackend } from '$lib/platform/testing';
import { touchEveryMs, watchIdle } from '$lib/session.svelte';

const MINUTE = 60_000;

describe('idle sign-out in the window', () => {
  let backend: ReturnType<typeof fakeBackend>;
  let now = 0;
  const clock = () => now;
  async function pass(ms: number) {
    now += ms;
    await vi.advanceTimersByTimeAsync(ms);
  }

  beforeEach(() => {
    vi.useFakeTimers();
    now = 0;
  });
  afterEach(() => {
    vi.useRealTimers();
    backend?.reset();
  });

  it("adopts the clinic's new idle time from the core instead of the one at sign-in", async () => {
    backend = fakeBackend({
      session_touch: () => ({ user_id: 'u1', email: 'a@b.org', full_name: 'A', role: 'admin', idle_timeout_minutes: 2 }),
    });
    const onIdle = vi.fn();
    const watch = watchIdle(15, onIdle, clock);
    await pass(30_000);
    window.dispatchEvent(new KeyboardEvent('keydown'));
    await pass(MINUTE); // the person typed, so the window tells the core, which answers "2 minutes"
    expect(backend.calls.map((c) => c.command)).toContain('session_touch');
    await pass(2 * MINUTE);
    expect(onIdle).toHaveBeenCalledWith(2);
    watch.stop();
  });

  it('never touches the session without input', async () => {
    backend = fakeBackend({});
    const onIdle = vi.fn();
    const watch = watchIdle(15, onIdle, clock);
    await pass(14 * MINUTE);
    expect(backend.calls).toHaveLength(0);
    expect(onIdle).not.toHaveBeenCalled();
    await pass(MINUTE);
    expect(onIdle).toHaveBeenCalledWith(15);
    watch.stop();
  });

  it('tells the core about input well inside a short idle limit', () => {
    expect(touchEveryMs(15)).toBe(MINUTE);
    expect(touchEveryMs(1)).toBe(20_000);
  });
});
