// The consultation's chat through the core (Twilio's REST API), behind the same `ChatSession` seam the
// Conversations SDK adapter implements. Used when the SDK cannot connect (a network that blocks
// Twilio's websocket, or a clinic routing Twilio through another address, as the tests do): history,
// new messages every few seconds, sending and read receipts still work; typing indicators and
// attachments need the live connection and say so.
import { Emitter } from '$lib/call/emitter';
import type { ChatMessage, ChatSession, ConversationEvents } from '$lib/call';
import { api } from '$lib/platform/api';
import type { ChatLine } from '$lib/platform/bindings/ChatLine';
import type { ChatView } from '$lib/platform/bindings/ChatView';

/** How often the core is asked for new messages while the chat is open. */
export const POLL_MS = 2500;

export class CoreChatSession implements ChatSession {
  private events = new Emitter<ConversationEvents>();
  private seen = new Set<number>();
  private patientRead: number | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(
    private readonly appointmentId: string,
    /** The doctor's identity in this consultation (from the token). */
    readonly identity: string,
    private readonly patientIdentity: string,
    private readonly pollMs = POLL_MS,
  ) {}

  on<E extends keyof ConversationEvents>(event: E, listener: ConversationEvents[E]): () => void {
    return this.events.on(event, listener);
  }

  async history(): Promise<ChatMessage[]> {
    const view = await api.consultationMessages(this.appointmentId);
    this.remember(view);
    this.timer ??= setInterval(() => void this.poll(), this.pollMs);
    return view.messages.map((line) => this.message(line));
  }

  async readHorizons(): Promise<Record<string, number | null>> {
    return { [this.patientIdentity]: this.patientRead };
  }

  async send(body: string): Promise<void> {
    const line = await api.consultationSend(this.appointmentId, body);
    this.deliver(line);
  }

  async sendFile(): Promise<void> {
    throw new Error('Attachments need the live chat connection, which is not available here.');
  }

  typing(): void {
    // The REST API has no typing signal; the live SDK sends it.
  }

  async markRead(): Promise<void> {
    await api.consultationMarkRead(this.appointmentId);
  }

  async updateToken(): Promise<void> {
    // The core signs each request itself: nothing to renew here.
  }

  async announce(): Promise<void> {
    // Only the patient's page announces itself (the waiting room); the doctor's window never does.
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.events.clear();
  }

  /** One round: new messages and a moved read horizon become the SDK's events. */
  async poll(): Promise<void> {
    if (this.closed) return;
    let view: ChatView;
    try {
      view = await api.consultationMessages(this.appointmentId);
    } catch {
      return; // Offline for a moment: the next round tries again.
    }
    if (this.closed) return;
    for (const line of view.messages) this.deliver(line);
    if (view.patient_read_index !== this.patientRead) {
      this.patientRead = view.patient_read_index;
      this.events.emit('participantUpdated', { identity: this.patientIdentity, lastReadMessageIndex: this.patientRead });
    }
  }

  private remember(view: ChatView) {
    for (const line of view.messages) this.seen.add(line.index);
    this.patientRead = view.patient_read_index;
  }

  private deliver(line: ChatLine) {
    if (this.seen.has(line.index)) return;
    this.seen.add(line.index);
    this.events.emit('messageAdded', this.message(line));
  }

  private message(line: ChatLine): ChatMessage {
    const author = line.author === 'doctor' ? this.identity : line.author === 'patient' ? this.patientIdentity : null;
    return {
      index: line.index,
      author,
      body: line.body,
      sentAt: new Date(line.sent_at),
      media: line.media.map((m) => ({
        sid: m.sid ?? '',
        filename: m.filename,
        contentType: m.content_type ?? 'application/octet-stream',
        size: m.size ?? 0,
        url: async () => null,
      })),
    };
  }
}
