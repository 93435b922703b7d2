// The twilio-video adapter against a stand-in for the SDK module: the options it joins with, and how the
// SDK's objects and events become the seam's.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallSession, RoomEvents } from '../types';

const sdk = vi.hoisted(() => {
  class Ev {
    private l = new Map<string, ((...a: unknown[]) => void)[]>();
    on(e: string, f: (...a: unknown[]) => void) { this.l.set(e, [...(this.l.get(e) ?? []), f]); return this; }
    emit(e: string, ...a: unknown[]) { for (const f of this.l.get(e) ?? []) f(...a); }
  }
  class Track extends Ev {
    isEnabled = true;
    attach = vi.fn();
    detach = vi.fn();
    stop = vi.fn();
    enable = vi.fn();
    disable = vi.fn();
    constructor(public kind: string) { super(); }
  }
  const participant = (sid: string, identity: string) =>
    Object.assign(new Ev(), { sid, identity, tracks: new Map<string, { track: Track | null }>() });
  function room(remotes: ReturnType<typeof participant>[]) {
    const camera = new Track('video');
    const mic = new Track('audio');
    const local = Object.assign(new Ev(), {
      sid: 'PA-local', identity: 'd-1',
      videoTracks: new Map<string, { track: Track }>([['MT-cam', { track: camera }]]),
      audioTracks: new Map<string, { track: Track }>([['MT-mic', { track: mic }]]),
      tracks: new Map<string, { track: Track }>([['MT-cam', { track: camera }], ['MT-mic', { track: mic }]]),
      unpublishTrack: vi.fn((t: Track) => { local.videoTracks.forEach((p, k) => p.track === t && local.videoTracks.delete(k)); }),
      publishTrack: vi.fn(async (t: Track) => { local.videoTracks.set('MT-new', { track: t }); }),
    });
    const r = Object.assign(new Ev(), {
      state: 'connected', localParticipant: local, participants: new Map(remotes.map((p) => [p.sid, p])),
      disconnect: vi.fn(() => { r.state = 'disconnected'; r.emit('disconnected', r, undefined); }),
    });
    return { room: r, camera, mic, local };
  }
  return { Ev, Track, participant, room, connect: vi.fn(), createLocalVideoTrack: vi.fn() };
});

vi.mock('twilio-video', () => ({
  isSupported: true,
  connect: sdk.connect,
  createLocalVideoTrack: sdk.createLocalVideoTrack,
}));

const { twilioCallBackend } = await import('../twilio');

function record(session: CallSession) {
  const events: [string, ...unknown[]][] = [];
  const names: (keyof RoomEvents)[] = ['connected', 'participantConnected', 'participantDisconnected', 'trackSubscribed',
    'trackUnsubscribed', 'reconnecting', 'reconnected', 'disconnected', 'networkQualityLevelChanged', 'dominantSpeakerChanged'];
  for (const name of names) session.on(name, ((...args: unknown[]) => events.push([name, ...args])) as RoomEvents[typeof name]);
  return events;
}
const flush = () => new Promise((r) => setTimeout(r, 0));

describe('twilio-video adapter', () => {
  beforeEach(() => {
    sdk.connect.mockReset();
    sdk.createLocalVideoTrack.mockReset();
  });

  it('reports isSupported from the SDK', async () => {
    expect(await twilioCallBackend.isSupported()).toBe(true);
  });

  it('joins the named room with the chosen devices, network quality and dominant speaker on', async () => {
    const { room } = sdk.room([]);
    sdk.connect.mockResolvedValue(room);
    twilioCallBackend.connect('TOKEN', 'cons-42', { microphoneId: 'mic-2', cameraOff: true });
    await flush();
    const [token, options] = sdk.connect.mock.calls[0];
    expect(token).toBe('TOKEN');
    expect(options).toMatchObject({
      name: 'cons-42', audio: { deviceId: { exact: 'mic-2' } }, video: false,
      dominantSpeaker: true, networkQuality: { local: 1, remote: 1 },
    });
  });

  it('relays the room’s events with the seam’s payloads', async () => {
    const patient = sdk.participant('PA1', 'p-1');
    const already = new sdk.Track('video');
    patient.tracks.set('MT1', { track: already });
    const { room, local, camera } = sdk.room([patient]);
    sdk.connect.mockResolvedValue(room);
    const session = twilioCallBackend.connect('T', 'r', {});
    const events = record(session);
    await flush();

    expect(events[0]).toEqual(['connected', [{ sid: 'PA1', identity: 'p-1' }]]);
    expect(events[1][0]).toBe('trackSubscribed'); // a track the participant already had
    const handle = events[1][1] as { kind: string; attach(el: HTMLMediaElement): void };
    expect(handle.kind).toBe('video');
    const el = document.createElement('video');
    handle.attach(el);
    expect(already.attach).toHaveBeenCalledWith(el);

    local.emit('networkQualityLevelChanged', 4);
    patient.emit('networkQualityLevelChanged', 2);
    const late = sdk.participant('PA2', 'p-2');
    room.emit('participantConnected', late);
    late.emit('networkQualityLevelChanged', 1);
    const audio = new sdk.Track('audio');
    room.emit('trackSubscribed', audio, {}, late);
    room.emit('trackUnsubscribed', audio, {}, late);
    room.emit('reconnecting', Object.assign(new Error('Signaling connection disconnected'), { code: 53001 }));
    room.emit('reconnected');
    room.emit('dominantSpeakerChanged', patient);
    room.emit('participantDisconnected', late);
    room.emit('disconnected', room, Object.assign(new Error('Room completed'), { code: 53118 }));

    const rest = events.slice(2).map(([name, ...args]) => [name, ...args.map((a) => (a && typeof a === 'object' && 'attach' in a ? 'handle' : a))]);
    expect(rest).toEqual([
      ['networkQualityLevelChanged', 4, null],
      ['networkQualityLevelChanged', 2, { sid: 'PA1', identity: 'p-1' }],
      ['participantConnected', { sid: 'PA2', identity: 'p-2' }],
      ['networkQualityLevelChanged', 1, { sid: 'PA2', identity: 'p-2' }],
      ['trackSubscribed', 'handle', { sid: 'PA2', identity: 'p-2' }],
      ['trackUnsubscribed', 'handle', { sid: 'PA2', identity: 'p-2' }],
      ['reconnecting', { code: 53001, message: 'Signaling connection disconnected' }],
      ['reconnected'],
      ['dominantSpeakerChanged', { sid: 'PA1', identity: 'p-1' }],
      ['participantDisconnected', { sid: 'PA2', identity: 'p-2' }],
      ['disconnected', { code: 53118, message: 'Room completed' }],
    ]);
    // the same handle for subscribe and unsubscribe, so the view can tell which track went
    const sub = events.find((e) => e[0] === 'trackSubscribed' && e[1] !== handle)![1];
    const unsub = events.find((e) => e[0] === 'trackUnsubscribed')![1];
    expect(unsub).toBe(sub);
    // the camera and microphone are released when the call ends
    expect(camera.stop).toHaveBeenCalled();
  });

  it('turns a failed join into disconnected with Twilio’s code and message', async () => {
    sdk.connect.mockRejectedValue(Object.assign(new Error('Invalid Access Token'), { code: 20101 }));
    const events = record(twilioCallBackend.connect('BAD', 'r', {}));
    await flush();
    expect(events).toEqual([['disconnected', { code: 20101, message: 'Invalid Access Token' }]]);
  });

  it('leaves a room that connects after Leave was pressed', async () => {
    const { room } = sdk.room([]);
    let resolve!: (r: unknown) => void;
    sdk.connect.mockReturnValue(new Promise((r) => (resolve = r)));
    const session = twilioCallBackend.connect('T', 'r', {});
    const events = record(session);
    await flush();
    session.disconnect();
    resolve(room);
    await flush();
    expect(room.disconnect).toHaveBeenCalled();
    expect(events.map((e) => e[0])).toEqual(['disconnected']);
  });

  it('stops and unpublishes the camera when it is turned off, and publishes a new one when on', async () => {
    const { room, camera, local, mic } = sdk.room([]);
    sdk.connect.mockResolvedValue(room);
    const session = twilioCallBackend.connect('T', 'r', { cameraId: 'cam-2' });
    await flush();
    expect(session.localVideo()?.kind).toBe('video');
    await session.setCameraEnabled(false);
    expect(camera.stop).toHaveBeenCalled();
    expect(local.unpublishTrack).toHaveBeenCalledWith(camera);
    expect(session.localVideo()).toBeNull();

    const fresh = new sdk.Track('video');
    sdk.createLocalVideoTrack.mockResolvedValue(fresh);
    await session.setCameraEnabled(true);
    expect(sdk.createLocalVideoTrack).toHaveBeenCalledWith(expect.objectContaining({ deviceId: { exact: 'cam-2' } }));
    expect(local.publishTrack).toHaveBeenCalledWith(fresh);
    expect(session.localVideo()).not.toBeNull();

    session.setMicrophoneEnabled(false);
    expect(mic.disable).toHaveBeenCalled();
    session.setMicrophoneEnabled(true);
    expect(mic.enable).toHaveBeenCalled();
  });
});
