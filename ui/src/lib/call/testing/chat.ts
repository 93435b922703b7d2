// A stand-in for @twilio/conversations behind the seam: an in-memory conversation whose messages,
// typing, read horizons and token events the test drives with the SDK's own event names.
import { Emitter } from '../emitter';
import type {
  ChatBackend, ChatMedia, ChatMessage, ChatSession, ConversationEvents,
} from '../types';

export class FakeConversation extends Emitter<ConversationEvents> implements ChatSession {
  messages: ChatMessage[] = [];
  horizons: Record<string, number | null> = {};
  typingCalls = 0;
  readMarks: number[] = [];
  /** This side's participant attributes, as `announce` merged them. */
  attributes: Record<string, string> = {};
  tokens: string[] = [];
  closed = false;
  /** The download link a sent file gets (default `blob:fake/<name>`); the browser harness serves the file itself. */
  serveFile: ((file: File) => string) | null = null;
  /** Make the next send fail with this message (then cleared). */
  failNextSend: string | null = null;

  constructor(readonly identity: string, readonly sid: string) {
    super();
  }

  async history(): Promise<ChatMessage[]> {
    return [...this.messages];
  }
  async readHorizons(): Promise<Record<string, number | null>> {
    return { ...this.horizons };
  }
  async send(body: string): Promise<void> {
    this.takeFailure();
    this.receive({ author: this.identity, body });
  }
  async sendFile(file: File): Promise<void> {
    this.takeFailure();
    this.receive({ author: this.identity, body: null, media: [fakeMedia(file, this.serveFile?.(file))] });
  }
  typing(): void {
    this.typingCalls += 1;
  }
  async markRead(index: number): Promise<void> {
    this.readMarks.push(index);
  }
  async updateToken(token: string): Promise<void> {
    this.tokens.push(token);
  }
  async announce(attributes: Record<string, string>): Promise<void> {
    this.attributes = { ...this.attributes, ...attributes };
  }
  close(): void {
    this.closed = true;
  }

  /** A message arriving (from anyone), emitted as `messageAdded`. */
  receive(message: { author: string | null; body: string | null; media?: ChatMedia[]; sentAt?: Date }): ChatMessage {
    const full: ChatMessage = {
      index: this.messages.length,
      author: message.author,
      body: message.body,
      sentAt: message.sentAt ?? new Date('2026-11-23T10:00:00Z'),
      media: message.media ?? [],
    };
    this.messages.push(full);
    this.emit('messageAdded', full);
    return full;
  }

  /** Another participant read up to `index`: emitted as `participantUpdated`. */
  read(identity: string, index: number): void {
    this.horizons[identity] = index;
    this.emit('participantUpdated', { identity, lastReadMessageIndex: index });
  }

  private takeFailure(): void {
    const failure = this.failNextSend;
    this.failNextSend = null;
    if (failure) throw new Error(failure);
  }
}

export function fakeMedia(file: { name: string; type: string; size: number }, url = `blob:fake/${file.name}`): ChatMedia {
  return {
    sid: `ME-${file.name}`, filename: file.name, contentType: file.type, size: file.size,
    url: async () => url,
  };
}

export class FakeChatBackend implements ChatBackend {
  conversations: FakeConversation[] = [];
  /** How many of the next `open`s fail as the SDK does for a conversation that is not there yet. */
  missing = 0;
  constructor(readonly identity = 'd-7a1b90', private prepare?: (c: FakeConversation) => void) {}
  async open(token: string, conversationSid: string): Promise<FakeConversation> {
    if (this.missing > 0) {
      this.missing -= 1;
      throw new Error('Not Found');
    }
    const conversation = new FakeConversation(this.identity, conversationSid);
    conversation.tokens.push(token);
    this.prepare?.(conversation);
    this.conversations.push(conversation);
    return conversation;
  }
  get last(): FakeConversation {
    const c = this.conversations.at(-1);
    if (!c) throw new Error('no conversation opened yet');
    return c;
  }
}
