// A session handed to a view after it has already connected: the view subscribes late and would miss
// `connected` and the tracks that came with it (the patient's page shows the call only once the doctor
// has let them in). `replaying` records every event from the start and, right after the view's first
// subscriptions (one microtask later, so all of a component's `on` calls are in), replays them in their
// original order to the listeners registered by then; later events pass straight through.
import { Emitter } from './emitter';
import type { CallSession, RoomEventName, RoomEvents } from './types';

export function replaying(session: CallSession): CallSession {
  const relay = new Emitter<RoomEvents>();
  const past: { event: RoomEventName; args: unknown[] }[] = [];
  let replayed = false;
  const names: RoomEventName[] = [
    'connected', 'participantConnected', 'participantDisconnected', 'trackSubscribed', 'trackUnsubscribed',
    'reconnecting', 'reconnected', 'disconnected', 'networkQualityLevelChanged', 'dominantSpeakerChanged',
  ];
  for (const event of names) {
    session.on(event, ((...args: unknown[]) => {
      if (!replayed) past.push({ event, args });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      (relay.emit as any)(event, ...args);
    }) as RoomEvents[typeof event]);
  }
  return {
    on(event, listener) {
      const off = relay.on(event, listener);
      if (!replayed) {
        replayed = true;
        queueMicrotask(() => {
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          for (const { event: e, args } of past.splice(0)) (relay.emit as any)(e, ...args);
        });
      }
      return off;
    },
    localVideo: () => session.localVideo(),
    setMicrophoneEnabled: (enabled) => session.setMicrophoneEnabled(enabled),
    setCameraEnabled: (enabled) => session.setCameraEnabled(enabled),
    disconnect: () => session.disconnect(),
  };
}
