// The call's state as the UI shows it, driven only by the session's events (no SDK objects kept beyond
// the media handles the views attach). One instance per joined room.
import type {
  CallError, CallParticipant, CallSession, MediaHandle, NetworkQualityLevel,
} from './types';

export type CallPhase = 'connecting' | 'connected' | 'reconnecting' | 'reconnected' | 'disconnected';

/** How long the "Reconnected" banner stays before the phase settles back to `connected`. */
export const RECONNECTED_BANNER_MS = 4000;

/** Twilio's code for "the room was completed" (someone ended it for everyone). */
export const ROOM_COMPLETED = 53118;

export interface RemoteParty {
  sid: string;
  identity: string;
  video: MediaHandle | null;
  audio: MediaHandle | null;
  networkQuality: NetworkQualityLevel | null;
}

export class CallState {
  phase: CallPhase = $state('connecting');
  participants: RemoteParty[] = $state([]);
  localNetworkQuality: NetworkQualityLevel | null = $state(null);
  dominantSpeakerSid: string | null = $state(null);
  /** Why the call ended when it ended with an error; null for leaving or a completed room. */
  error: CallError | null = $state(null);
  /** True once the room was completed (ended for everyone), by this side or the other. */
  completed = $state(false);
  microphoneOn = $state(true);
  cameraOn = $state(true);
  cameraBusy = $state(false);
  cameraProblem: string | null = $state(null);
  /** This side's published camera, for the small picture. */
  localVideo: MediaHandle | null = $state(null);
  /** When this side joined (ms since epoch), and the clock the timer reads. */
  joinedAt: number | null = $state(null);
  now: number = $state(Date.now());

  elapsedSeconds = $derived(this.joinedAt === null ? 0 : Math.max(0, Math.floor((this.now - this.joinedAt) / 1000)));
  /** Someone was in the room with this side and has gone (they left, or lost their connection). */
  remoteLeft = $state(false);
  /** The person on the other side (a consultation has one); null while they have not joined. */
  remote = $derived(this.participants[0] ?? null);

  private stops: (() => void)[] = [];
  // Told of every change, synchronously: a host mirroring the call must not miss a short phase.
  private onphase?: (phase: CallPhase) => void;
  private settle: ReturnType<typeof setTimeout> | null = null;
  private ticker: ReturnType<typeof setInterval> | null = null;

  constructor(
    readonly session: CallSession,
    options: { cameraOff?: boolean; clock?: () => number; onphase?: (phase: CallPhase) => void } = {},
  ) {
    const clock = options.clock ?? Date.now;
    this.onphase = options.onphase;
    this.onphase?.(this.phase);
    this.cameraOn = !options.cameraOff;
    const s = session;
    this.stops.push(
      s.on('connected', (present) => {
        this.setPhase('connected');
        this.localVideo = s.localVideo();
        this.joinedAt = clock();
        this.now = this.joinedAt;
        this.participants = present.map(party);
        this.remoteLeft = false;
        this.ticker ??= setInterval(() => (this.now = clock()), 1000);
      }),
      s.on('participantConnected', (p) => {
        if (!this.participants.some((q) => q.sid === p.sid)) this.participants = [...this.participants, party(p)];
        this.remoteLeft = false;
      }),
      s.on('participantDisconnected', (p) => {
        this.participants = this.participants.filter((q) => q.sid !== p.sid);
        this.remoteLeft = this.participants.length === 0;
        if (this.dominantSpeakerSid === p.sid) this.dominantSpeakerSid = null;
      }),
      s.on('trackSubscribed', (track, p) => this.update(p, (q) => ({ ...q, [track.kind]: track }))),
      s.on('trackUnsubscribed', (track, p) =>
        this.update(p, (q) => (q[track.kind] === track ? { ...q, [track.kind]: null } : q))),
      s.on('reconnecting', () => {
        this.clearSettle();
        if (this.phase !== 'disconnected') this.setPhase('reconnecting');
      }),
      s.on('reconnected', () => {
        if (this.phase === 'disconnected') return;
        this.setPhase('reconnected');
        this.clearSettle();
        this.settle = setTimeout(() => {
          if (this.phase === 'reconnected') this.setPhase('connected');
        }, RECONNECTED_BANNER_MS);
      }),
      s.on('disconnected', (error) => {
        this.setPhase('disconnected');
        if (error?.code === ROOM_COMPLETED) this.completed = true;
        else if (error) this.error = error;
        this.participants = [];
        this.localVideo = null;
        this.stopTimers();
      }),
      s.on('networkQualityLevelChanged', (level, p) => {
        if (p === null) this.localNetworkQuality = level;
        else this.update(p, (q) => ({ ...q, networkQuality: level }));
      }),
      s.on('dominantSpeakerChanged', (p) => (this.dominantSpeakerSid = p?.sid ?? null)),
    );
  }

  toggleMicrophone(): void {
    this.microphoneOn = !this.microphoneOn;
    this.session.setMicrophoneEnabled(this.microphoneOn);
  }

  /** Turns the camera off or on; a camera that will not start leaves it off with `cameraProblem` said. */
  async toggleCamera(): Promise<void> {
    if (this.cameraBusy) return;
    const on = !this.cameraOn;
    this.cameraBusy = true;
    this.cameraProblem = null;
    if (!on) {
      // Off at once in the view, before the track is gone.
      this.cameraOn = false;
      this.localVideo = null;
    }
    try {
      await this.session.setCameraEnabled(on);
      this.cameraOn = on;
    } catch {
      this.cameraOn = false;
      this.cameraProblem = 'The camera could not start. It may be in use by another program.';
    } finally {
      this.cameraBusy = false;
      this.localVideo = this.session.localVideo();
    }
  }

  /** Leaves; the others stay (the room goes on). */
  leave(): void {
    this.session.disconnect();
  }

  /** Marks the room completed from this side (the caller has asked the core to complete it). */
  markCompleted(): void {
    this.completed = true;
    this.session.disconnect();
  }

  /** Stops listening (the view unmounted). Leaves the room if still in it. */
  dispose(): void {
    for (const stop of this.stops.splice(0)) stop();
    this.stopTimers();
    if (this.phase !== 'disconnected') this.session.disconnect();
  }

  private setPhase(phase: CallPhase): void {
    if (this.phase === phase) return;
    this.phase = phase;
    this.onphase?.(phase);
  }

  private update(p: CallParticipant, change: (q: RemoteParty) => RemoteParty): void {
    // A track can arrive before participantConnected was seen (the SDK does not promise the order).
    const known = this.participants.some((q) => q.sid === p.sid);
    const list = known ? this.participants : [...this.participants, party(p)];
    this.participants = list.map((q) => (q.sid === p.sid ? change(q) : q));
  }

  private clearSettle(): void {
    if (this.settle) clearTimeout(this.settle);
    this.settle = null;
  }

  private stopTimers(): void {
    this.clearSettle();
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
  }
}

const party = (p: CallParticipant): RemoteParty => ({
  sid: p.sid, identity: p.identity, video: null, audio: null, networkQuality: null,
});

/** "0:07", "12:34", "1:02:03". */
export function formatElapsed(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

/** Network quality in words, for screen readers and the bars' title. */
export function qualityInWords(level: NetworkQualityLevel | null): string {
  if (level === null) return 'Network quality not known yet';
  return ['No network', 'Very poor network', 'Poor network', 'Fair network', 'Good network', 'Excellent network'][level];
}
