// The chat's state as the UI shows it, driven by the conversation's events. One instance per open
// conversation; `start()` loads the history and subscribes, `dispose()` lets go.
import { attachmentProblem } from './attachments';

/** Twilio Conversations' limit for one message's body (the core checks the same: chat.rs). */
export const MAX_MESSAGE_CHARS = 1600;
import type { ChatMessage, ChatSession } from './types';

export class ChatState {
  messages: ChatMessage[] = $state([]);
  /** Identities typing right now (other people only). */
  typing: string[] = $state([]);
  /** Other participants' read horizons (the highest message index they have read). */
  horizons: Record<string, number | null> = $state({});
  loaded = $state(false);
  /** A sentence for the person when the chat cannot go on (token expired, history failed). */
  problem: string | null = $state(null);

  /** The last message the others have all read, for "Read" under this side's messages. */
  readUpTo = $derived.by(() => {
    const values = Object.values(this.horizons);
    if (values.length === 0 || values.some((v) => v === null)) return -1;
    return Math.min(...(values as number[]));
  });

  private stops: (() => void)[] = [];

  constructor(
    readonly session: ChatSession,
    private options: { refreshToken?: () => Promise<string> } = {},
  ) {}

  get identity(): string {
    return this.session.identity;
  }

  async start(): Promise<void> {
    const s = this.session;
    this.stops.push(
      s.on('messageAdded', (m) => {
        if (this.messages.some((x) => x.index === m.index)) return;
        this.messages = [...this.messages, m].sort((a, b) => a.index - b.index);
        // A message from someone ends their typing (the SDK's typingEnded can lag behind it).
        if (m.author) this.typing = this.typing.filter((t) => t !== m.author);
      }),
      s.on('typingStarted', (who) => {
        if (who !== this.identity && !this.typing.includes(who)) this.typing = [...this.typing, who];
      }),
      s.on('typingEnded', (who) => (this.typing = this.typing.filter((t) => t !== who))),
      s.on('participantUpdated', ({ identity, lastReadMessageIndex }) => {
        if (identity !== this.identity) this.horizons = { ...this.horizons, [identity]: lastReadMessageIndex };
      }),
      s.on('tokenAboutToExpire', () => void this.refresh()),
      s.on('tokenExpired', () => void this.refresh(true)),
    );
    try {
      const [history, horizons] = await Promise.all([s.history(), s.readHorizons()]);
      // Messages that arrived while the history loaded are kept.
      const seen = new Set(history.map((m) => m.index));
      this.messages = [...history, ...this.messages.filter((m) => !seen.has(m.index))].sort((a, b) => a.index - b.index);
      this.horizons = { ...horizons, ...this.horizons };
    } catch {
      this.problem = 'The earlier messages could not be loaded. New messages still arrive.';
    } finally {
      this.loaded = true;
    }
  }

  /** Sends a text; throws with a sentence when it could not be sent. */
  async send(body: string): Promise<void> {
    const text = body.trim();
    if (!text) return;
    // Twilio refuses longer messages; saying "check the connection" would send people looking in the wrong place.
    if (text.length > MAX_MESSAGE_CHARS) {
      throw new Error(`A chat message can be up to ${MAX_MESSAGE_CHARS.toLocaleString('en')} characters (this one has ${text.length.toLocaleString('en')}); split it.`);
    }
    try {
      await this.session.send(text);
    } catch {
      throw new Error('The message was not sent. Check the connection and try again.');
    }
  }

  /** Sends an image or PDF; throws with a sentence when it is refused or could not be sent. */
  async sendFile(file: File): Promise<void> {
    const problem = attachmentProblem(file);
    if (problem) throw new Error(problem);
    try {
      await this.session.sendFile(file);
    } catch {
      throw new Error(`“${file.name}” was not sent. Check the connection and try again.`);
    }
  }

  /** Marks everything shown as read (called when the chat is visible). */
  async markAllRead(): Promise<void> {
    const last = this.messages.at(-1);
    if (last) await this.session.markRead(last.index).catch(() => {});
  }

  dispose(): void {
    for (const stop of this.stops.splice(0)) stop();
    this.session.close();
  }

  private async refresh(expired = false): Promise<void> {
    if (!this.options.refreshToken) {
      if (expired) this.problem = 'The chat has been signed out. Reopen the consultation to continue chatting.';
      return;
    }
    try {
      await this.session.updateToken(await this.options.refreshToken());
      this.problem = null;
    } catch {
      this.problem = expired
        ? 'The chat has been signed out and could not sign in again. Reopen the consultation to continue chatting.'
        : null;
    }
  }
}
