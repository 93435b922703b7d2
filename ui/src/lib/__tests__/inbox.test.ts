import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeBackend } from '$lib/platform/testing';
import { UnreadReplies, UNREAD_POLL_MS, unreadInWords } from '$lib/inbox.svelte';

describe('unread replies for the top bar', () => {
  let backend: ReturnType<typeof fakeBackend>;
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    vi.useRealTimers();
    backend?.reset();
  });

  it('asks the core now and every 15 seconds until stopped, keeping the last count through a failure', async () => {
    let answer: number | Error = 2;
    backend = fakeBackend({
      inbox_unread_count: () => {
        if (answer instanceof Error) throw answer;
        return answer;
      },
    });
    const unread = new UnreadReplies();
    const stop = unread.watch();
    await vi.advanceTimersByTimeAsync(0);
    expect(unread.count).toBe(2);
    answer = 5;
    await vi.advanceTimersByTimeAsync(UNREAD_POLL_MS - 1);
    expect(unread.count).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(unread.count).toBe(5);
    answer = new Error('offline');
    await vi.advanceTimersByTimeAsync(UNREAD_POLL_MS);
    expect(unread.count).toBe(5);
    stop();
    answer = 9;
    await vi.advanceTimersByTimeAsync(UNREAD_POLL_MS * 2);
    expect(unread.count).toBe(5);
    expect(backend.calls.filter((c) => c.command === 'inbox_unread_count')).toHaveLength(3);
  });

  it('says it in words', () => {
    expect(unreadInWords(1)).toBe('1 unread reply');
    expect(unreadInWords(3)).toBe('3 unread replies');
  });
});
