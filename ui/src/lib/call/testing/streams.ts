// Real MediaStreams for the browser harness: a canvas painted with a label on a colour, with a moving
// stripe so frames keep coming. The doubles' FakeTrack plays one when given it, so a browser test can see
// a remote or local video actually play (videoWidth > 0) and a screenshot shows a picture, not a black box.

const painters = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | null = null;

/** A 640×480 (or given size) stream at 10 frames a second; null where canvases cannot be captured (jsdom). */
export function paintedStream(label: string, background: string, width = 640, height = 480): MediaStream | null {
  if (typeof HTMLCanvasElement === 'undefined' || typeof HTMLCanvasElement.prototype.captureStream !== 'function') return null;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext('2d');
  if (!g) return null;
  let frame = 0;
  const paint = () => {
    g.fillStyle = background;
    g.fillRect(0, 0, width, height);
    // A head-and-shoulders silhouette, so the picture reads as "a person" at a glance.
    g.fillStyle = 'rgb(255 255 255 / 28%)';
    g.beginPath();
    g.arc(width / 2, height * 0.42, height * 0.16, 0, Math.PI * 2);
    g.fill();
    g.beginPath();
    g.ellipse(width / 2, height * 0.98, width * 0.3, height * 0.36, 0, Math.PI, 0);
    g.fill();
    g.fillStyle = 'rgb(255 255 255 / 85%)';
    g.font = `600 ${Math.round(height / 12)}px sans-serif`;
    g.textAlign = 'center';
    g.fillText(label, width / 2, height * 0.14);
    g.fillStyle = 'rgb(255 255 255 / 40%)';
    g.fillRect(((frame * 8) % (width + 40)) - 40, height - 8, 40, 8);
    frame += 1;
  };
  paint();
  painters.add(paint);
  timer ??= setInterval(() => painters.forEach((p) => p()), 100);
  return canvas.captureStream(10);
}
