// The Conversations adapter against a stand-in for the SDK module: start-up, history, and which of the
// SDK's events reach the seam and in what shape.
import { describe, expect, it, vi } from 'vitest';
import type { ChatSession, ConversationEvents } from '../types';

const sdk = vi.hoisted(() => {
  class Ev {
    private l = new Map<string, ((...a: unknown[]) => void)[]>();
    on(e: string, f: (...a: unknown[]) => void) { this.l.set(e, [...(this.l.get(e) ?? []), f]); return this; }
    once(e: string, f: (...a: unknown[]) => void) { return this.on(e, f); }
    emit(e: string, ...a: unknown[]) { for (const f of this.l.get(e) ?? []) f(...a); }
  }
  const message = (index: number, author: string, body: string | null, media: unknown[] | null = null) => ({
    index, author, body, dateCreated: new Date('2026-11-23T10:00:00Z'), attachedMedia: media,
  });
  const built = { send: vi.fn(async () => 3) };
  const builder = { addMedia: vi.fn(() => builder), build: vi.fn(() => built) };
  const conversation = Object.assign(new Ev(), {
    getMessages: vi.fn(async () => ({
      items: [
        message(0, 'p-1', 'Hello'),
        message(1, 'd-1', null, [{ sid: 'ME1', filename: 'rash.jpg', contentType: 'image/jpeg', size: 1200, getContentTemporaryUrl: async () => 'https://media/rash.jpg' }]),
      ],
    })),
    getParticipants: vi.fn(async () => [{ identity: 'd-1', lastReadMessageIndex: 1 }, { identity: 'p-1', lastReadMessageIndex: 0 }]),
    sendMessage: vi.fn(async () => 2),
    prepareMessage: vi.fn(() => builder),
    typing: vi.fn(async () => {}),
    advanceLastReadMessageIndex: vi.fn(async () => 0),
    me: { attributes: { role: 'patient' } as unknown, updateAttributes: vi.fn(async (a: unknown) => a) },
    getParticipantByIdentity: vi.fn(async function (this: { me: unknown }) { return this.me; }),
  });
  const clients: FakeClient[] = [];
  let fail: string | null = null;
  let lookupFail: Error | null = null;
  class FakeClient extends Ev {
    user = { identity: 'd-1' };
    updateToken = vi.fn(async () => this);
    shutdown = vi.fn(async () => {});
    getConversationBySid = vi.fn(async () => conversation);
    getConversationByUniqueName = vi.fn(async () => {
      const failure = lookupFail;
      lookupFail = null;
      if (failure) throw failure;
      return conversation;
    });
    constructor(public token: string) {
      super();
      clients.push(this);
      setTimeout(() => (fail ? this.emit('initFailed', { error: { message: fail } }) : this.emit('initialized')), 0);
    }
  }
  return { FakeClient, conversation, clients, builder, built, message, failWith: (m: string | null) => (fail = m), failLookupWith: (e: Error) => (lookupFail = e) };
});

vi.mock('@twilio/conversations', () => ({ Client: sdk.FakeClient }));

const { twilioChatBackend } = await import('../conversations');

function record(session: ChatSession) {
  const events: [string, ...unknown[]][] = [];
  const names: (keyof ConversationEvents)[] = ['messageAdded', 'typingStarted', 'typingEnded', 'participantUpdated', 'tokenAboutToExpire', 'tokenExpired'];
  for (const name of names) session.on(name, ((...args: unknown[]) => events.push([name, ...args])) as ConversationEvents[typeof name]);
  return events;
}

describe('Conversations adapter', () => {
  it('opens the conversation once the client is initialized, as the token’s identity', async () => {
    const session = await twilioChatBackend.open('CHAT-TOKEN', 'CH42000000000000000000000000000042');
    const client = sdk.clients.at(-1)!;
    expect(client.token).toBe('CHAT-TOKEN');
    expect(client.getConversationBySid).toHaveBeenCalledWith('CH42000000000000000000000000000042');
    expect(session.identity).toBe('d-1');
  });

  it('says so when the client cannot start', async () => {
    sdk.failWith('Access Token expired or expiration date invalid');
    await expect(twilioChatBackend.open('OLD', 'CH42000000000000000000000000000042')).rejects.toThrow('Access Token expired');
    sdk.failWith(null);
  });

  it('maps the history with media, and the others’ read horizons', async () => {
    const session = await twilioChatBackend.open('T', 'CH42000000000000000000000000000042');
    const history = await session.history();
    expect(history.map((m) => [m.index, m.author, m.body])).toEqual([[0, 'p-1', 'Hello'], [1, 'd-1', null]]);
    expect(history[1].media[0]).toMatchObject({ filename: 'rash.jpg', contentType: 'image/jpeg', size: 1200 });
    expect(await history[1].media[0].url()).toBe('https://media/rash.jpg');
    expect(await session.readHorizons()).toEqual({ 'p-1': 0 });
  });

  it('relays messages, typing, read horizons and token events; ignores other participant updates', async () => {
    const session = await twilioChatBackend.open('T', 'CH42000000000000000000000000000042');
    const client = sdk.clients.at(-1)!;
    const events = record(session);
    const c = sdk.conversation;
    c.emit('messageAdded', sdk.message(2, 'p-1', 'Thanks'));
    c.emit('typingStarted', { identity: 'p-1' });
    c.emit('typingEnded', { identity: 'p-1' });
    c.emit('participantUpdated', { participant: { identity: 'p-1', lastReadMessageIndex: 2 }, updateReasons: ['attributes'] });
    c.emit('participantUpdated', { participant: { identity: 'p-1', lastReadMessageIndex: 2 }, updateReasons: ['lastReadMessageIndex', 'lastReadTimestamp'] });
    client.emit('tokenAboutToExpire');
    client.emit('tokenExpired');
    expect(events.map(([name, arg]) => [name, name === 'messageAdded' ? (arg as { body: string }).body : arg])).toEqual([
      ['messageAdded', 'Thanks'],
      ['typingStarted', 'p-1'],
      ['typingEnded', 'p-1'],
      ['participantUpdated', { identity: 'p-1', lastReadMessageIndex: 2 }],
      ['tokenAboutToExpire', undefined],
      ['tokenExpired', undefined],
    ]);
  });

  it('sends text, files as media, typing, read marks and new tokens through the SDK', async () => {
    const session = await twilioChatBackend.open('T', 'CH42000000000000000000000000000042');
    const client = sdk.clients.at(-1)!;
    await session.send('Hello');
    expect(sdk.conversation.sendMessage).toHaveBeenCalledWith('Hello');
    const file = new File(['%PDF'], 'results.pdf', { type: 'application/pdf' });
    await session.sendFile(file);
    expect(sdk.builder.addMedia).toHaveBeenCalledWith({ contentType: 'application/pdf', filename: 'results.pdf', media: file });
    expect(sdk.built.send).toHaveBeenCalled();
    session.typing();
    expect(sdk.conversation.typing).toHaveBeenCalled();
    await session.markRead(7);
    expect(sdk.conversation.advanceLastReadMessageIndex).toHaveBeenCalledWith(7);
    await session.updateToken('NEW');
    expect(client.updateToken).toHaveBeenCalledWith('NEW');
    session.close();
    expect(client.shutdown).toHaveBeenCalled();
  });

  it("finds the waiting room by the room's name and merges the patient's announcement into its attributes", async () => {
    const bySid = await twilioChatBackend.open('T', 'CH0123456789abcdef0123456789abcdef');
    expect(sdk.clients.at(-1)!.getConversationBySid).toHaveBeenCalledWith('CH0123456789abcdef0123456789abcdef');
    bySid.close();
    const session = await twilioChatBackend.open('T', 'cd-4f1c0a9e');
    const client = sdk.clients.at(-1)!;
    expect(client.getConversationByUniqueName).toHaveBeenCalledWith('cd-4f1c0a9e');
    expect(client.getConversationBySid).not.toHaveBeenCalled();
    await session.announce({ waiting_since: '2026-11-23T09:50:00.000Z', device_check: 'passed' });
    expect(sdk.conversation.getParticipantByIdentity).toHaveBeenCalledWith('d-1');
    expect(sdk.conversation.me.updateAttributes).toHaveBeenCalledWith({ role: 'patient', waiting_since: '2026-11-23T09:50:00.000Z', device_check: 'passed' });
    sdk.conversation.me = null as never;
    await expect(session.announce({ left_at: 'x' })).rejects.toThrow('You are not in this conversation.');
  });

  it('shuts a client whose conversation is not there, so a retry does not leave connections open', async () => {
    const missing = new Error('Not Found');
    sdk.failLookupWith(missing);
    await expect(twilioChatBackend.open('T', 'cd-not-yet')).rejects.toBe(missing);
    const client = sdk.clients.at(-1)!;
    expect(client.getConversationByUniqueName).toHaveBeenCalledWith('cd-not-yet');
    expect(client.shutdown).toHaveBeenCalled();
  });
});
