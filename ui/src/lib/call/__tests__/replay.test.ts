import { describe, expect, it } from 'vitest';
import { FakeCallBackend, FakeTrack, patientParty } from '../testing/call';
import { replaying } from '../replay';

describe('a session handed to a view after it connected', () => {
  it('replays what happened before the view subscribed, in order, then passes events through', async () => {
    const room = new FakeCallBackend().connect('t', 'r', {});
    const view = replaying(room);
    const track = new FakeTrack('video', 'doctor');
    room.emit('connected', [patientParty]);
    room.emit('trackSubscribed', track, patientParty);
    const seen: string[] = [];
    // A component subscribes to several events in a row (here in the opposite order to their emission).
    view.on('trackSubscribed', (t) => seen.push(`track ${(t as FakeTrack).name}`));
    view.on('connected', (people) => seen.push(`connected ${people.length}`));
    expect(seen).toEqual([]);
    await Promise.resolve();
    expect(seen).toEqual(['connected 1', 'track doctor']);
    room.emit('reconnecting');
    view.on('reconnecting', () => seen.push('reconnecting (late listener)'));
    room.emit('reconnecting');
    expect(seen).toEqual(['connected 1', 'track doctor', 'reconnecting (late listener)']);
    view.disconnect();
    expect(room.disconnects).toBe(1);
  });
});
