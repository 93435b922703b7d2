// The seam's CallBackend on twilio-video 2.x. The SDK (~1 MB) is imported on first use so the app's
// main bundle does not carry it; only types are imported statically.
import type {
  ConnectOptions, LocalVideoTrack, NetworkQualityLevel as SdkLevel, Participant, RemoteParticipant,
  RemoteTrack, Room, TwilioError,
} from 'twilio-video';
import { Emitter } from './emitter';
import type {
  CallBackend, CallError, CallParticipant, CallSession, ChosenDevices, MediaHandle, NetworkQualityLevel,
  RoomEvents,
} from './types';

type Sdk = typeof import('twilio-video');
let sdk: Promise<Sdk> | null = null;
const loadSdk = (): Promise<Sdk> => (sdk ??= import('twilio-video'));

const toParty = (p: Participant): CallParticipant => ({ sid: p.sid, identity: p.identity });
const toError = (e: TwilioError | Error | undefined | null): CallError | undefined =>
  e ? { code: (e as TwilioError).code, message: e.message } : undefined;

/** Wraps an SDK track once, so trackUnsubscribed hands the UI the same handle trackSubscribed did. */
const handles = new WeakMap<object, MediaHandle>();
function handle(track: RemoteTrack | LocalVideoTrack): MediaHandle | null {
  if (track.kind !== 'audio' && track.kind !== 'video') return null;
  let h = handles.get(track);
  if (!h) {
    const media = track;
    h = {
      kind: track.kind,
      attach: (element) => void media.attach(element),
      detach: (element) => void media.detach(element),
    };
    handles.set(track, h);
  }
  return h;
}

class TwilioCall extends Emitter<RoomEvents> implements CallSession {
  private room: Room | null = null;
  private left = false;

  constructor(token: string, roomName: string, private devices: ChosenDevices) {
    super();
    // Joining starts on the next turn, after the caller registered its listeners.
    queueMicrotask(() => void this.join(token, roomName));
  }

  private async join(token: string, roomName: string): Promise<void> {
    try {
      const video = await loadSdk();
      const d = this.devices;
      const options: ConnectOptions = {
        name: roomName,
        audio: d.microphoneId ? { deviceId: { exact: d.microphoneId } } : true,
        video: d.cameraOff ? false : { ...(d.cameraId ? { deviceId: { exact: d.cameraId } } : {}), width: 1280, height: 720, frameRate: 24 },
        dominantSpeaker: true,
        networkQuality: { local: 1, remote: 1 },
        bandwidthProfile: { video: { mode: 'collaboration' } },
        preferredVideoCodecs: 'auto',
      };
      const room = await video.connect(token, options);
      if (this.left) {
        room.disconnect();
        return;
      }
      this.room = room;
      this.wire(room);
      this.emit('connected', [...room.participants.values()].map(toParty));
      for (const p of room.participants.values()) {
        for (const pub of p.tracks.values()) {
          const h = pub.track && handle(pub.track);
          if (h) this.emit('trackSubscribed', h, toParty(p));
        }
      }
    } catch (error) {
      this.emit('disconnected', toError(error as TwilioError) ?? { message: 'Could not join the call.' });
    }
  }

  private wire(room: Room): void {
    const local = room.localParticipant;
    local.on('networkQualityLevelChanged', (level: SdkLevel) => this.emit('networkQualityLevelChanged', level as NetworkQualityLevel, null));
    const watch = (p: RemoteParticipant) =>
      p.on('networkQualityLevelChanged', (level: SdkLevel) => this.emit('networkQualityLevelChanged', level as NetworkQualityLevel, toParty(p)));
    room.participants.forEach(watch);
    room.on('participantConnected', (p) => {
      watch(p);
      this.emit('participantConnected', toParty(p));
    });
    room.on('participantDisconnected', (p) => this.emit('participantDisconnected', toParty(p)));
    room.on('trackSubscribed', (track, _pub, p) => {
      const h = handle(track);
      if (h) this.emit('trackSubscribed', h, toParty(p));
    });
    room.on('trackUnsubscribed', (track, _pub, p) => {
      const h = handle(track);
      if (h) this.emit('trackUnsubscribed', h, toParty(p));
    });
    room.on('reconnecting', (error) => this.emit('reconnecting', toError(error)));
    room.on('reconnected', () => this.emit('reconnected'));
    room.on('dominantSpeakerChanged', (p) => this.emit('dominantSpeakerChanged', p ? toParty(p) : null));
    room.on('disconnected', (_room, error) => {
      // Release the camera and microphone: the SDK leaves local tracks running after a disconnect.
      local.tracks.forEach((pub) => {
        const t = pub.track as { stop?: () => void };
        t.stop?.();
      });
      this.emit('disconnected', toError(error));
    });
  }

  localVideo(): MediaHandle | null {
    const pub = [...(this.room?.localParticipant.videoTracks.values() ?? [])][0];
    return pub?.track && pub.track.isEnabled ? handle(pub.track) : null;
  }

  setMicrophoneEnabled(enabled: boolean): void {
    this.room?.localParticipant.audioTracks.forEach((pub) => (enabled ? pub.track.enable() : pub.track.disable()));
  }

  async setCameraEnabled(enabled: boolean): Promise<void> {
    // Off means stopped and unpublished, not merely disabled: the camera light goes out, as a patient
    // expects when they turn the camera off (Twilio's reference app does the same).
    const room = this.room;
    if (!room) return;
    const local = room.localParticipant;
    if (!enabled) {
      local.videoTracks.forEach((pub) => {
        pub.track.stop();
        local.unpublishTrack(pub.track);
      });
      return;
    }
    if (local.videoTracks.size > 0) return;
    const video = await loadSdk();
    const d = this.devices;
    const track = await video.createLocalVideoTrack({ ...(d.cameraId ? { deviceId: { exact: d.cameraId } } : {}), width: 1280, height: 720, frameRate: 24 });
    if (this.room !== room || room.state === 'disconnected') {
      track.stop();
      return;
    }
    await local.publishTrack(track);
  }

  disconnect(): void {
    this.left = true;
    if (this.room) this.room.disconnect();
    else this.emit('disconnected');
  }
}

export const twilioCallBackend: CallBackend = {
  async isSupported() {
    try {
      return (await loadSdk()).isSupported;
    } catch {
      return false;
    }
  },
  connect: (token, roomName, devices) => new TwilioCall(token, roomName, devices),
};
