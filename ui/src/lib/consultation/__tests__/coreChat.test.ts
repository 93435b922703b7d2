import { afterEach, describe, expect, it } from 'vitest';
import { fakeBackend } from '$lib/platform/testing';
import type { ChatLine } from '$lib/platform/bindings/ChatLine';
import type { ChatView } from '$lib/platform/bindings/ChatView';
import { CoreChatSession } from '../coreChat';

const line = (index: number, author: ChatLine['author'], body: string): ChatLine => ({ index, author, body, media: [], sent_at: '2030-03-05T09:31:00Z' });

describe('the chat through the core behaves like the SDK for the chat panel', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('history names authors by identity; polls announce only new messages and a moved read horizon', async () => {
    let view: ChatView = { messages: [line(0, 'patient', 'Hello'), line(1, 'doctor', 'Good morning')], doctor_read_index: null, patient_read_index: null, closed: false };
    backend = fakeBackend({ consultation_messages: () => view });
    const chat = new CoreChatSession('a1', 'd-1', 'p-1', 60_000);
    const history = await chat.history();
    expect(history.map((m) => [m.index, m.author, m.body])).toEqual([[0, 'p-1', 'Hello'], [1, 'd-1', 'Good morning']]);

    const added: number[] = [];
    const horizons: (number | null)[] = [];
    chat.on('messageAdded', (m) => added.push(m.index));
    chat.on('participantUpdated', (u) => horizons.push(u.lastReadMessageIndex));
    await chat.poll();
    expect(added).toEqual([]);
    expect(horizons).toEqual([]);

    view = { ...view, messages: [...view.messages, line(2, 'patient', 'I can hear you')], patient_read_index: 1 };
    await chat.poll();
    await chat.poll();
    expect(added).toEqual([2]);
    expect(horizons).toEqual([1]);
    chat.close();
  });

  it('a sent message is announced once, even when the next poll sees it again', async () => {
    const sent = line(3, 'doctor', 'See you soon');
    backend = fakeBackend({
      consultation_messages: () => ({ messages: [sent], doctor_read_index: null, patient_read_index: null, closed: false }),
      consultation_send: (args) => ({ ...sent, body: args.body as string }),
    });
    const chat = new CoreChatSession('a1', 'd-1', 'p-1', 60_000);
    const added: string[] = [];
    chat.on('messageAdded', (m) => added.push(m.body ?? ''));
    await chat.send('See you soon');
    await chat.poll();
    expect(added).toEqual(['See you soon']);
    expect(backend.calls.find((c) => c.command === 'consultation_send')?.args).toEqual({ id: 'a1', body: 'See you soon' });
  });

  it('attachments say they need the live connection; a failed poll is quiet', async () => {
    backend = fakeBackend({});
    const chat = new CoreChatSession('a1', 'd-1', 'p-1', 60_000);
    await expect(chat.sendFile()).rejects.toThrow(/live chat connection/);
    await expect(chat.poll()).resolves.toBeUndefined();
  });
});
