// The number of patients' replies nobody has read yet, for the top bar. One instance per signed-in
// workspace: it polls while mounted, and the Inbox asks it to refresh after marking a reply read.
import { api } from '$lib/platform/api';

export const UNREAD_POLL_MS = 15_000;

export class UnreadReplies {
  /** `null` until the core first answers (nothing is shown meanwhile). */
  count: number | null = $state(null);

  async refresh(): Promise<void> {
    try {
      this.count = await api.inboxUnreadCount();
    } catch {
      /* the badge keeps the last count; a session that ended is handled by onSessionEnded */
    }
  }

  /** Refreshes now and every `everyMs`; returns the stop function. */
  watch(everyMs: number = UNREAD_POLL_MS): () => void {
    this.refresh();
    const timer = setInterval(() => this.refresh(), everyMs);
    return () => clearInterval(timer);
  }
}

/** "1 unread reply", "3 unread replies". */
export const unreadInWords = (count: number) => `${count} unread ${count === 1 ? 'reply' : 'replies'}`;
