// Svelte attachments-as-actions that play a seam track in an element, and swap or release it when the
// track changes or the element goes away.
import type { MediaHandle } from './types';

export function playTrack(element: HTMLMediaElement, track: MediaHandle | null) {
  let current = track;
  current?.attach(element);
  return {
    update(next: MediaHandle | null) {
      if (next === current) return;
      current?.detach(element);
      current = next;
      current?.attach(element);
    },
    destroy() {
      current?.detach(element);
    },
  };
}

type SinkElement = HTMLMediaElement & { setSinkId?: (id: string) => Promise<void> };

/** Routes the element's sound to the chosen speaker where the engine can (Chromium, Edge, Firefox). */
export function speaker(element: HTMLMediaElement, sinkId: string | undefined) {
  const apply = (id: string | undefined) => {
    const el = element as SinkElement;
    if (id && typeof el.setSinkId === 'function') void el.setSinkId(id).catch(() => {});
  };
  apply(sinkId);
  return { update: apply };
}

/** True where audio output can be chosen at all (Safari and WebKitGTK cannot). */
export const canChooseSpeaker = (): boolean =>
  typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
