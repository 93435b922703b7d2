// A stand-in for @twilio/conversations that talks to the project's fake Twilio over its Conversations
// REST API, for the end-to-end test: the patient's page in Chromium then reaches the same conversation the
// doctor's app reads, so "waiting", chat messages and read horizons cross between the two for real. The SDK
// itself cannot be used there (it connects to Twilio's own hosts). It polls for new messages and emits them
// with the SDK's event names. `base` is a same-origin path the test server forwards to the fake; `key` the
// API key's Basic credentials (test-only values).
import { Emitter } from '../emitter';
import type { ChatBackend, ChatMessage, ChatSession, ConversationEvents } from '../types';

interface RestMessage {
  index: number;
  author: string | null;
  body: string | null;
  date_created: string;
}
interface RestParticipant {
  sid: string;
  identity: string | null;
  attributes: string | null;
  last_read_message_index: number | null;
}

function identityOf(token: string): string {
  const payload = token.split('.')[1] ?? '';
  const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (payload.length % 4)) % 4)));
  return String(claims?.grants?.identity ?? '');
}

class RestConversation extends Emitter<ConversationEvents> implements ChatSession {
  private seen = new Set<number>();
  private timer: ReturnType<typeof setInterval>;

  constructor(private api: (path: string, form?: Record<string, string>) => Promise<unknown>, readonly identity: string, private sid: string, pollMs: number) {
    super();
    this.timer = setInterval(() => void this.poll(), pollMs);
  }

  private async messages(): Promise<ChatMessage[]> {
    const page = (await this.api(`/v1/Conversations/${this.sid}/Messages?PageSize=100`)) as { messages: RestMessage[] };
    return page.messages.map((m) => ({ index: m.index, author: m.author, body: m.body, sentAt: new Date(m.date_created), media: [] }));
  }

  private async people(): Promise<RestParticipant[]> {
    return ((await this.api(`/v1/Conversations/${this.sid}/Participants`)) as { participants: RestParticipant[] }).participants;
  }

  private async poll(): Promise<void> {
    try {
      for (const m of await this.messages()) {
        if (this.seen.has(m.index)) continue;
        this.seen.add(m.index);
        this.emit('messageAdded', m);
      }
    } catch {
      // The next round tries again, as the SDK reconnects.
    }
  }

  async history(): Promise<ChatMessage[]> {
    const all = await this.messages();
    for (const m of all) this.seen.add(m.index);
    return all;
  }

  async readHorizons(): Promise<Record<string, number | null>> {
    const horizons: Record<string, number | null> = {};
    for (const p of await this.people()) if (p.identity && p.identity !== this.identity) horizons[p.identity] = p.last_read_message_index;
    return horizons;
  }

  async send(body: string): Promise<void> {
    await this.api(`/v1/Conversations/${this.sid}/Messages`, { Author: this.identity, Body: body });
    await this.poll();
  }

  async sendFile(): Promise<void> {
    throw new Error('Attachments need the live chat.');
  }

  typing(): void {}

  async markRead(index: number): Promise<void> {
    const me = (await this.people()).find((p) => p.identity === this.identity);
    if (me) await this.api(`/v1/Conversations/${this.sid}/Participants/${me.sid}`, { LastReadMessageIndex: String(index) });
  }

  async updateToken(): Promise<void> {}

  async announce(attributes: Record<string, string>): Promise<void> {
    const me = (await this.people()).find((p) => p.identity === this.identity);
    if (!me) throw new Error('You are not in this conversation.');
    const current = JSON.parse(me.attributes || '{}');
    await this.api(`/v1/Conversations/${this.sid}/Participants/${me.sid}`, { Attributes: JSON.stringify({ ...current, ...attributes }) });
  }

  close(): void {
    clearInterval(this.timer);
    this.clear();
  }
}

export class RestChatBackend implements ChatBackend {
  constructor(private base: string, private key: string, private pollMs = 1000) {}

  private api = async (path: string, form?: Record<string, string>): Promise<unknown> => {
    const response = await fetch(`${this.base}${path}`, {
      method: form ? 'POST' : 'GET',
      headers: { authorization: `Basic ${this.key}`, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: form ? new URLSearchParams(form) : undefined,
    });
    if (!response.ok) throw new Error(`Twilio answered ${response.status}`);
    return response.json();
  };

  async open(token: string, conversation: string): Promise<ChatSession> {
    const found = (await this.api(`/v1/Conversations/${encodeURIComponent(conversation)}`)) as { sid: string };
    return new RestConversation(this.api, identityOf(token), found.sid, this.pollMs);
  }
}
