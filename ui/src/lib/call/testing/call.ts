// A stand-in for twilio-video behind the seam: the test (or a Playwright page) drives the room by
// emitting the SDK's own event names, and reads back what the UI asked of it.
import { Emitter } from '../emitter';
import type {
  CallBackend, CallParticipant, CallSession, ChosenDevices, MediaHandle, RoomEvents,
} from '../types';

/** A track whose attach/detach are recorded, so a test can see which element plays it. */
export class FakeTrack implements MediaHandle {
  attached: HTMLMediaElement[] = [];
  /**
   * `stream`: a real MediaStream to play where there is a browser (the harness paints one on a canvas);
   * without it (jsdom) attaching only records the element.
   */
  constructor(readonly kind: 'audio' | 'video', readonly name: string = kind, public stream: MediaStream | null = null) {}
  attach(element: HTMLMediaElement): void {
    if (!this.attached.includes(element)) this.attached.push(element);
    element.dataset.track = this.name;
    if (this.stream) element.srcObject = this.stream;
  }
  detach(element: HTMLMediaElement): void {
    this.attached = this.attached.filter((e) => e !== element);
    delete element.dataset.track;
    if (this.stream && element.srcObject === this.stream) element.srcObject = null;
  }
}

export class FakeRoom extends Emitter<RoomEvents> implements CallSession {
  microphoneEnabled = true;
  cameraEnabled: boolean;
  disconnects = 0;
  readonly camera = new FakeTrack('video', 'local-camera');

  constructor(readonly token: string, readonly roomName: string, readonly devices: ChosenDevices) {
    super();
    this.cameraEnabled = !devices.cameraOff;
  }

  localVideo(): MediaHandle | null {
    return this.cameraEnabled ? this.camera : null;
  }
  setMicrophoneEnabled(enabled: boolean): void {
    this.microphoneEnabled = enabled;
  }
  /** Make the next camera start fail with this error name (e.g. NotReadableError). */
  failCameraStart: string | null = null;
  async setCameraEnabled(enabled: boolean): Promise<void> {
    if (enabled && this.failCameraStart) {
      const error = new Error('Could not start video source');
      error.name = this.failCameraStart;
      this.failCameraStart = null;
      throw error;
    }
    this.cameraEnabled = enabled;
  }
  disconnect(): void {
    this.disconnects += 1;
    this.emit('disconnected');
  }
}

export class FakeCallBackend implements CallBackend {
  rooms: FakeRoom[] = [];
  constructor(public supported = true) {}
  async isSupported(): Promise<boolean> {
    return this.supported;
  }
  connect(token: string, roomName: string, devices: ChosenDevices): FakeRoom {
    const room = new FakeRoom(token, roomName, devices);
    this.rooms.push(room);
    return room;
  }
  get last(): FakeRoom {
    const room = this.rooms.at(-1);
    if (!room) throw new Error('nothing joined a room yet');
    return room;
  }
}

export const patientParty: CallParticipant = { sid: 'PA0001', identity: 'p-5f0c2e' };
