// A short two-note chime for "a patient is waiting", made with Web Audio so no sound file ships with
// the app. Quiet (gain 0.15) and under half a second; silently nothing where there is no audio
// (tests, a webview without sound).

let context: AudioContext | null = null;

export function chime(): void {
  const Context = globalThis.AudioContext ?? (globalThis as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
  if (!Context) return;
  try {
    context ??= new Context();
    const start = context.currentTime;
    for (const [i, frequency] of [660, 880].entries()) {
      const tone = context.createOscillator();
      const gain = context.createGain();
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.15, start + i * 0.18);
      gain.gain.exponentialRampToValueAtTime(0.001, start + i * 0.18 + 0.22);
      tone.connect(gain).connect(context.destination);
      tone.start(start + i * 0.18);
      tone.stop(start + i * 0.18 + 0.25);
    }
  } catch {
    // No sound is no reason to miss the banner.
  }
}
