// navigator.mediaDevices stand-ins for jsdom: a camera and microphone, permission denied, or no camera.
export type MediaScenario = 'ok' | 'denied' | 'no-camera' | 'no-devices';

export interface FakeMediaDevices {
  requests: MediaStreamConstraints[];
  restore(): void;
}

function fakeTrack(kind: 'audio' | 'video', asked: boolean | MediaTrackConstraints | undefined): MediaStreamTrack {
  const exact = typeof asked === 'object' ? (asked.deviceId as { exact?: string } | undefined)?.exact : undefined;
  const deviceId = exact ?? (kind === 'video' ? 'cam-1' : 'mic-1');
  return { kind, stop() {}, enabled: true, getSettings: () => ({ deviceId }) } as unknown as MediaStreamTrack;
}

function domError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** Installs fake media devices on navigator; `restore()` puts the old ones back. */
export function installMediaDevices(scenario: MediaScenario): FakeMediaDevices {
  const hasCamera = scenario === 'ok' || scenario === 'denied';
  const hasMicrophone = scenario !== 'no-devices';
  const requests: MediaStreamConstraints[] = [];
  const granted = scenario !== 'denied';
  const devices: MediaDeviceInfo[] = [
    ...(hasCamera ? [{ kind: 'videoinput', deviceId: granted ? 'cam-1' : '', label: granted ? 'Desk camera' : '', groupId: 'g1' }] : []),
    ...(hasMicrophone ? [
      { kind: 'audioinput', deviceId: granted ? 'mic-1' : '', label: granted ? 'Headset microphone' : '', groupId: 'g2' },
      { kind: 'audioinput', deviceId: granted ? 'mic-2' : '', label: granted ? 'Built-in microphone' : '', groupId: 'g3' },
      { kind: 'audiooutput', deviceId: granted ? 'spk-1' : '', label: granted ? 'Headset' : '', groupId: 'g2' },
    ] : []),
  ].map((d) => ({ ...d, toJSON: () => d }) as MediaDeviceInfo);

  const fake = {
    enumerateDevices: async () => devices,
    getUserMedia: async (constraints: MediaStreamConstraints) => {
      requests.push(constraints);
      if (scenario === 'denied') throw domError('NotAllowedError', 'Permission denied');
      if (constraints.video && !hasCamera) throw domError('NotFoundError', 'Requested device not found');
      if (constraints.audio && !hasMicrophone) throw domError('NotFoundError', 'Requested device not found');
      const tracks = [
        ...(constraints.video ? [fakeTrack('video', constraints.video)] : []),
        ...(constraints.audio ? [fakeTrack('audio', constraints.audio)] : []),
      ];
      return {
        getTracks: () => tracks,
        getVideoTracks: () => tracks.filter((t) => t.kind === 'video'),
        getAudioTracks: () => tracks.filter((t) => t.kind === 'audio'),
      } as unknown as MediaStream;
    },
    addEventListener() {},
    removeEventListener() {},
  };
  const previous = Object.getOwnPropertyDescriptor(navigator, 'mediaDevices');
  Object.defineProperty(navigator, 'mediaDevices', { value: fake, configurable: true });
  return {
    requests,
    restore() {
      if (previous) Object.defineProperty(navigator, 'mediaDevices', previous);
      else delete (navigator as { mediaDevices?: unknown }).mediaDevices;
    },
  };
}
