// Cameras, microphones and speakers, and what to tell a person when the browser will not hand them over.

export interface DeviceLists {
  cameras: MediaDeviceInfo[];
  microphones: MediaDeviceInfo[];
  speakers: MediaDeviceInfo[];
}

export type MediaProblem = 'denied' | 'no-camera' | 'no-microphone' | 'in-use' | 'unavailable';

export const hasMediaDevices = (): boolean =>
  typeof navigator !== 'undefined' && !!navigator.mediaDevices && typeof navigator.mediaDevices.getUserMedia === 'function';

export async function listDevices(): Promise<DeviceLists> {
  const all = await navigator.mediaDevices.enumerateDevices();
  // Before permission, browsers list devices with empty ids and labels: those cannot be chosen.
  const usable = all.filter((d) => d.deviceId !== '');
  return {
    cameras: usable.filter((d) => d.kind === 'videoinput'),
    microphones: usable.filter((d) => d.kind === 'audioinput'),
    speakers: usable.filter((d) => d.kind === 'audiooutput'),
  };
}

/** The getUserMedia error's name, in the terms the preview explains. */
export function problemOf(error: unknown, asked: 'camera' | 'microphone'): MediaProblem {
  const name = (error as { name?: string } | null)?.name ?? '';
  if (name === 'NotAllowedError' || name === 'PermissionDeniedError' || name === 'SecurityError') return 'denied';
  if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError') {
    return asked === 'camera' ? 'no-camera' : 'no-microphone';
  }
  if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') return 'in-use';
  return 'unavailable';
}

/** Where to turn the camera and microphone back on, for the browser this runs in. */
export function permissionHelpFor(userAgent: string): string {
  if (/Edg\//.test(userAgent)) {
    return 'In Edge, click the camera icon at the right of the address bar, choose Always allow, then press Try again.';
  }
  if (/Firefox\//.test(userAgent)) {
    return 'In Firefox, click the crossed-out camera icon at the left of the address bar, remove the block, then press Try again.';
  }
  if (/Chrome\//.test(userAgent) || /CriOS\//.test(userAgent)) {
    return 'In Chrome, click the camera icon (or the settings icon) in the address bar, allow the camera and microphone, then press Try again.';
  }
  if (/iPhone|iPad/.test(userAgent)) {
    return 'On an iPhone or iPad, tap “aA” in the address bar, then Website Settings, allow Camera and Microphone, and press Try again.';
  }
  if (/Safari\//.test(userAgent)) {
    return 'In Safari, open Safari › Settings for This Website, allow Camera and Microphone, then press Try again.';
  }
  return 'Allow this page to use the camera and microphone in the browser’s settings, then press Try again.';
}

/** Measures the loudness of a microphone stream, 0 (silence) to 1, with Web Audio; null where it cannot. */
export function levelMeter(stream: MediaStream, onlevel: (level: number) => void): (() => void) | null {
  const Context = globalThis.AudioContext ?? (globalThis as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
  if (!Context || stream.getAudioTracks().length === 0) return null;
  const context = new Context();
  const source = context.createMediaStreamSource(stream);
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  let frame = 0;
  const measure = () => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    // RMS of speech sits around 0.02–0.2; scale so ordinary speech fills most of the meter.
    onlevel(Math.min(1, Math.sqrt(sum / samples.length) * 5));
    frame = requestAnimationFrame(measure);
  };
  frame = requestAnimationFrame(measure);
  return () => {
    cancelAnimationFrame(frame);
    source.disconnect();
    void context.close().catch(() => {});
  };
}

/** Plays a short tone through the chosen speaker where the engine allows choosing one. */
export async function playTestTone(speakerId?: string): Promise<boolean> {
  const Context = globalThis.AudioContext;
  if (!Context) return false;
  const context = new Context() as AudioContext & { setSinkId?: (id: string) => Promise<void> };
  if (speakerId && typeof context.setSinkId === 'function') await context.setSinkId(speakerId).catch(() => {});
  const tone = context.createOscillator();
  const gain = context.createGain();
  tone.frequency.value = 660;
  gain.gain.value = 0.15;
  tone.connect(gain).connect(context.destination);
  tone.start();
  tone.stop(context.currentTime + 0.6);
  tone.onended = () => void context.close().catch(() => {});
  return true;
}
