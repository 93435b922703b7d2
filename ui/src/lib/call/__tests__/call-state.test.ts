import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flushSync } from 'svelte';
import { CallState, RECONNECTED_BANNER_MS, ROOM_COMPLETED, formatElapsed, qualityInWords } from '../call.svelte';
import { FakeCallBackend, FakeTrack, patientParty } from '../testing/call';

describe('CallState driven by the room events', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => {
    vi.useFakeTimers();
    now = Date.parse('2026-11-23T10:00:00Z');
  });
  afterEach(() => vi.useRealTimers());

  function join() {
    const backend = new FakeCallBackend();
    const room = backend.connect('tok', 'room-1', {});
    const state = new CallState(room, { clock });
    return { room, state };
  }

  it('goes connected → participant → track → reconnecting → reconnected → disconnected', () => {
    const { room, state } = join();
    expect(state.phase).toBe('connecting');
    expect(state.remote).toBeNull();

    room.emit('connected', []);
    expect(state.phase).toBe('connected');
    expect(state.participants).toEqual([]);

    room.emit('participantConnected', patientParty);
    expect(state.remote?.identity).toBe('p-5f0c2e');
    expect(state.remote?.video).toBeNull();

    const video = new FakeTrack('video');
    const audio = new FakeTrack('audio');
    room.emit('trackSubscribed', video, patientParty);
    room.emit('trackSubscribed', audio, patientParty);
    expect(state.remote?.video).toBe(video);
    expect(state.remote?.audio).toBe(audio);

    room.emit('networkQualityLevelChanged', 2, patientParty);
    room.emit('networkQualityLevelChanged', 5, null);
    expect(state.remote?.networkQuality).toBe(2);
    expect(state.localNetworkQuality).toBe(5);

    room.emit('reconnecting', { code: 53001, message: 'Signaling connection disconnected' });
    expect(state.phase).toBe('reconnecting');
    room.emit('reconnected');
    expect(state.phase).toBe('reconnected');
    vi.advanceTimersByTime(RECONNECTED_BANNER_MS - 1);
    expect(state.phase).toBe('reconnected');
    vi.advanceTimersByTime(1);
    expect(state.phase).toBe('connected');

    room.emit('trackUnsubscribed', video, patientParty);
    expect(state.remote?.video).toBeNull();
    expect(state.remote?.audio).toBe(audio);

    room.emit('participantDisconnected', patientParty);
    expect(state.remote).toBeNull();

    room.emit('disconnected', { code: 53000, message: 'Signaling connection error' });
    expect(state.phase).toBe('disconnected');
    expect(state.error?.code).toBe(53000);
    expect(state.completed).toBe(false);
  });

  it('keeps a reconnecting that arrives during the "Reconnected" banner', () => {
    const { room, state } = join();
    room.emit('connected', [patientParty]);
    room.emit('reconnecting');
    room.emit('reconnected');
    room.emit('reconnecting');
    vi.advanceTimersByTime(RECONNECTED_BANNER_MS * 2);
    expect(state.phase).toBe('reconnecting');
  });

  it('counts the time from joining, second by second', () => {
    const { room, state } = join();
    now += 5000; // time spent connecting does not count
    room.emit('connected', [patientParty]);
    expect(state.elapsedSeconds).toBe(0);
    for (let i = 0; i < 65; i++) {
      now += 1000;
      vi.advanceTimersByTime(1000);
    }
    flushSync();
    expect(state.elapsedSeconds).toBe(65);
    expect(formatElapsed(state.elapsedSeconds)).toBe('1:05');
    room.emit('disconnected');
    now += 10_000;
    vi.advanceTimersByTime(10_000);
    expect(state.elapsedSeconds).toBe(65);
  });

  it('takes the participants already in the room, and a track that comes before its participant', () => {
    const { room, state } = join();
    room.emit('connected', [patientParty]);
    expect(state.participants.map((p) => p.sid)).toEqual(['PA0001']);
    const other = { sid: 'PA0002', identity: 'p-other' };
    room.emit('trackSubscribed', new FakeTrack('video'), other);
    expect(state.participants.map((p) => p.sid)).toEqual(['PA0001', 'PA0002']);
    room.emit('participantConnected', other);
    expect(state.participants).toHaveLength(2);
  });

  it('tells a completed room (ended for everyone) from an error', () => {
    const { room, state } = join();
    room.emit('connected', [patientParty]);
    room.emit('disconnected', { code: ROOM_COMPLETED, message: 'Room completed' });
    expect(state.completed).toBe(true);
    expect(state.error).toBeNull();
  });

  it('mutes and turns the camera off through the session, and leaves on dispose', async () => {
    const { room, state } = join();
    room.emit('connected', []);
    expect(state.localVideo).toBe(room.camera);
    state.toggleMicrophone();
    const off = state.toggleCamera();
    expect(state.localVideo).toBeNull(); // gone from the view at once
    await off;
    expect(room.microphoneEnabled).toBe(false);
    expect(room.cameraEnabled).toBe(false);
    await state.toggleCamera();
    expect(state.cameraOn).toBe(true);
    expect(state.localVideo).toBe(room.camera);
    await state.toggleCamera();
    expect(state.microphoneOn).toBe(false);
    state.toggleMicrophone();
    expect(room.microphoneEnabled).toBe(true);
    state.dispose();
    expect(room.disconnects).toBe(1);
    expect(room.count('participantConnected')).toBe(0);
  });

  it('leaves the camera off and says why when it cannot start again', async () => {
    const { room, state } = join();
    room.emit('connected', []);
    await state.toggleCamera();
    room.failCameraStart = 'NotReadableError';
    await state.toggleCamera();
    expect(state.cameraOn).toBe(false);
    expect(state.localVideo).toBeNull();
    expect(state.cameraProblem).toMatch(/could not start/);
  });

  it('starts without a camera picture when joining with the camera off', () => {
    const backend = new FakeCallBackend();
    const room = backend.connect('tok', 'room-1', { cameraOff: true });
    const state = new CallState(room, { cameraOff: true });
    room.emit('connected', []);
    expect(state.cameraOn).toBe(false);
    expect(state.localVideo).toBeNull();
  });

  it('tracks the dominant speaker', () => {
    const { room, state } = join();
    room.emit('connected', [patientParty]);
    room.emit('dominantSpeakerChanged', patientParty);
    expect(state.dominantSpeakerSid).toBe('PA0001');
    room.emit('dominantSpeakerChanged', null);
    expect(state.dominantSpeakerSid).toBeNull();
  });
});

describe('words', () => {
  it('formats the timer', () => {
    expect(formatElapsed(7)).toBe('0:07');
    expect(formatElapsed(754)).toBe('12:34');
    expect(formatElapsed(3723)).toBe('1:02:03');
  });
  it('says the network quality', () => {
    expect(qualityInWords(null)).toMatch(/not known/);
    expect(qualityInWords(0)).toBe('No network');
    expect(qualityInWords(5)).toBe('Excellent network');
  });
});
