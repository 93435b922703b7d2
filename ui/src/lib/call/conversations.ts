// The seam's ChatBackend on @twilio/conversations 3.x, imported on first use (it is large and only the
// consultation screens need it). Chat needs no WebRTC, so this runs in every host.
import type { Client, Conversation, Message, Participant } from '@twilio/conversations';
import { Emitter } from './emitter';
import type { ChatBackend, ChatMedia, ChatMessage, ChatSession, ConversationEvents } from './types';

const HISTORY_PAGE = 100;

function toMessage(m: Message): ChatMessage {
  return {
    index: m.index,
    author: m.author,
    body: m.body,
    sentAt: m.dateCreated,
    media: (m.attachedMedia ?? []).map((media): ChatMedia => ({
      sid: media.sid,
      filename: media.filename,
      contentType: media.contentType,
      size: media.size,
      url: () => media.getContentTemporaryUrl(),
    })),
  };
}

class TwilioConversation extends Emitter<ConversationEvents> implements ChatSession {
  constructor(private client: Client, private conversation: Conversation) {
    super();
    const c = conversation;
    c.on('messageAdded', (m) => this.emit('messageAdded', toMessage(m)));
    c.on('typingStarted', (p) => p.identity && this.emit('typingStarted', p.identity));
    c.on('typingEnded', (p) => p.identity && this.emit('typingEnded', p.identity));
    c.on('participantUpdated', ({ participant, updateReasons }) => {
      if (participant.identity && updateReasons.includes('lastReadMessageIndex')) {
        this.emit('participantUpdated', { identity: participant.identity, lastReadMessageIndex: participant.lastReadMessageIndex });
      }
    });
    client.on('tokenAboutToExpire', () => this.emit('tokenAboutToExpire'));
    client.on('tokenExpired', () => this.emit('tokenExpired'));
  }

  get identity(): string {
    return this.client.user.identity;
  }

  async history(): Promise<ChatMessage[]> {
    const page = await this.conversation.getMessages(HISTORY_PAGE);
    return page.items.map(toMessage);
  }

  async readHorizons(): Promise<Record<string, number | null>> {
    const people: Participant[] = await this.conversation.getParticipants();
    const horizons: Record<string, number | null> = {};
    for (const p of people) if (p.identity && p.identity !== this.identity) horizons[p.identity] = p.lastReadMessageIndex;
    return horizons;
  }

  async send(body: string): Promise<void> {
    await this.conversation.sendMessage(body);
  }

  async sendFile(file: File): Promise<void> {
    await this.conversation.prepareMessage()
      .addMedia({ contentType: file.type, filename: file.name, media: file })
      .build()
      .send();
  }

  typing(): void {
    void this.conversation.typing().catch(() => {});
  }

  async markRead(index: number): Promise<void> {
    await this.conversation.advanceLastReadMessageIndex(index);
  }

  async updateToken(token: string): Promise<void> {
    await this.client.updateToken(token);
  }

  async announce(attributes: Record<string, string>): Promise<void> {
    const me = await this.conversation.getParticipantByIdentity(this.identity);
    if (!me) throw new Error('You are not in this conversation.');
    const current = me.attributes;
    const kept = current && typeof current === 'object' && !Array.isArray(current) ? current : {};
    await me.updateAttributes({ ...kept, ...attributes });
  }

  close(): void {
    this.clear();
    void this.client.shutdown().catch(() => {});
  }
}

export const twilioChatBackend: ChatBackend = {
  async open(token, conversationId) {
    const { Client } = await import('@twilio/conversations');
    const client = new Client(token);
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('initialized', () => resolve());
        client.once('initFailed', ({ error }) => reject(new Error(error?.message ?? 'The chat could not start.')));
      });
      const conversation = /^CH[0-9a-f]{32}$/i.test(conversationId)
        ? await client.getConversationBySid(conversationId)
        : await client.getConversationByUniqueName(conversationId);
      return new TwilioConversation(client, conversation);
    } catch (failure) {
      // A client that found nothing is shut, not left holding its connection (the patient's page tries again).
      void client.shutdown().catch(() => {});
      throw failure;
    }
  },
};
