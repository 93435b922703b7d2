// The call seam: what the call and chat components need from Twilio, and nothing else. Two
// implementations: the real SDKs (twilio.ts, conversations.ts, loaded on first use) and the test doubles
// (testing/). No platform imports here or anywhere under call/: the app window, the system-browser host
// and the patient's page all run these components.
//
// Event names are the SDKs' own, so a double that emits them and the adapters that relay them agree.
// Payloads are reduced to what the UI shows: identities are opaque ids, never names (names come from the
// clinic's records, as props).

/** Twilio's network quality level: 0 (no network) to 5 (excellent); null before the first report. */
export type NetworkQualityLevel = 0 | 1 | 2 | 3 | 4 | 5;

/** A remote participant as the room reports them. `identity` is the token's opaque id. */
export interface CallParticipant {
  sid: string;
  identity: string;
}

/** A subscribed (remote) or local audio/video track, reduced to attaching it to an element. */
export interface MediaHandle {
  kind: 'audio' | 'video';
  /** Plays the track in the element (the SDK sets srcObject). */
  attach(element: HTMLMediaElement): void;
  detach(element: HTMLMediaElement): void;
}

/** Why a call ended, as the UI explains it. `code` is Twilio's error code when there was one. */
export interface CallError {
  code?: number;
  message: string;
}

/** Room events, with the SDK's names (twilio-video's `Room`; `connected` is when `connect()` resolved). */
export interface RoomEvents {
  connected: (participants: CallParticipant[]) => void;
  participantConnected: (participant: CallParticipant) => void;
  participantDisconnected: (participant: CallParticipant) => void;
  trackSubscribed: (track: MediaHandle, participant: CallParticipant) => void;
  trackUnsubscribed: (track: MediaHandle, participant: CallParticipant) => void;
  reconnecting: (error?: CallError) => void;
  reconnected: () => void;
  /** `error` absent: this side left (or the room was completed, code 53118 when told). */
  disconnected: (error?: CallError) => void;
  /** The SDK emits this on each participant; the seam relays it with the participant (null = this side). */
  networkQualityLevelChanged: (level: NetworkQualityLevel, participant: CallParticipant | null) => void;
  dominantSpeakerChanged: (participant: CallParticipant | null) => void;
}

export type RoomEventName = keyof RoomEvents;

/** The devices chosen before joining (ids from enumerateDevices; absent = the system default). */
export interface ChosenDevices {
  cameraId?: string;
  microphoneId?: string;
  speakerId?: string;
  /** Join with the camera off (e.g. no camera, or the person chose so). */
  cameraOff?: boolean;
}

/** One joined (or joining) room. Listeners are registered before anything is emitted. */
export interface CallSession {
  on<E extends RoomEventName>(event: E, listener: RoomEvents[E]): () => void;
  /** This side's camera track, once published (null with the camera off or before `connected`). */
  localVideo(): MediaHandle | null;
  setMicrophoneEnabled(enabled: boolean): void;
  /**
   * Turns the camera off (the track is stopped and unpublished, so the camera light goes out) or on (a
   * new track is published); resolves when `localVideo()` reflects it, rejects when the camera cannot start.
   */
  setCameraEnabled(enabled: boolean): Promise<void>;
  /** Leaves the room (others stay). Emits `disconnected` without an error. */
  disconnect(): void;
}

export interface CallBackend {
  /** twilio-video's `isSupported` (loads the SDK on first call). */
  isSupported(): Promise<boolean>;
  /**
   * Starts joining and returns at once; the session emits `connected` when joined, or `disconnected`
   * with an error when joining failed (a token for another room, an expired token, no network).
   */
  connect(token: string, roomName: string, devices: ChosenDevices): CallSession;
}

// ---- chat (Conversations) ----

/** A file attached to a message. `url()` asks Twilio for a short-lived download link. */
export interface ChatMedia {
  sid: string;
  filename: string | null;
  contentType: string;
  size: number;
  url(): Promise<string | null>;
}

export interface ChatMessage {
  /** The conversation's message index (read horizons compare against it). */
  index: number;
  /** Opaque identity of the author. */
  author: string | null;
  body: string | null;
  sentAt: Date | null;
  media: ChatMedia[];
}

/** Conversation and client events, with the SDK's names. */
export interface ConversationEvents {
  messageAdded: (message: ChatMessage) => void;
  typingStarted: (identity: string) => void;
  typingEnded: (identity: string) => void;
  /** Relayed only for the read horizon (`updateReasons` includes `lastReadMessageIndex`). */
  participantUpdated: (update: { identity: string; lastReadMessageIndex: number | null }) => void;
  tokenAboutToExpire: () => void;
  tokenExpired: () => void;
}

export type ConversationEventName = keyof ConversationEvents;

export interface ChatSession {
  /** This side's identity in the conversation (from the token). */
  readonly identity: string;
  on<E extends ConversationEventName>(event: E, listener: ConversationEvents[E]): () => void;
  /** The most recent messages, oldest first. */
  history(): Promise<ChatMessage[]>;
  /** The other participants' read horizons, by identity. */
  readHorizons(): Promise<Record<string, number | null>>;
  send(body: string): Promise<void>;
  sendFile(file: File): Promise<void>;
  /** Tells the others this side is typing (the SDK throttles it). */
  typing(): void;
  /** Moves this side's read horizon forward to `index`. */
  markRead(index: number): Promise<void>;
  updateToken(token: string): Promise<void>;
  /**
   * Merges `attributes` into this side's own participant attributes: how the patient's page tells the
   * clinic it is waiting (`waiting_since`, `device_check`, `left_at`; the core reads them: waiting.rs).
   */
  announce(attributes: Record<string, string>): Promise<void>;
  close(): void;
}

export interface ChatBackend {
  /** `conversation`: its SID (CH…), or its unique name (the patient's page knows only the room's name). */
  open(token: string, conversation: string): Promise<ChatSession>;
}
