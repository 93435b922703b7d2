import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import DevicePreview from '../DevicePreview.svelte';
import { FakeCallBackend } from '../testing/call';
import { installMediaDevices, type FakeMediaDevices } from '../testing/media';
import { permissionHelpFor } from '../devices';

describe('DevicePreview', () => {
  beforeAll(() => {
    // jsdom has no media playback.
    HTMLMediaElement.prototype.play = async () => {};
  });
  let media: FakeMediaDevices | null = null;
  afterEach(() => {
    media?.restore();
    media = null;
  });

  function show(scenario: Parameters<typeof installMediaDevices>[0], supported = true, permissionHelp?: string) {
    media = installMediaDevices(scenario);
    const onjoin = vi.fn();
    render(DevicePreview, { backend: new FakeCallBackend(supported), onjoin, ...(permissionHelp ? { permissionHelp } : {}) });
    return { onjoin, user: userEvent.setup() };
  }

  it('previews the camera, lists the microphones, and joins with the chosen ones', async () => {
    const { onjoin, user } = show('ok');
    const join = await screen.findByRole('button', { name: 'Join the call' });
    await vi.waitFor(() => expect(join).toBeEnabled());
    expect(screen.getByLabelText('Your camera preview')).toBeVisible();
    const mic = screen.getByRole('combobox', { name: 'Microphone' });
    expect([...mic.querySelectorAll('option')].map((o) => o.textContent)).toEqual(['Headset microphone', 'Built-in microphone']);
    await user.selectOptions(mic, 'mic-2');
    await vi.waitFor(() => expect(media!.requests.at(-1)?.audio).toEqual({ deviceId: { exact: 'mic-2' } }));
    await vi.waitFor(() => expect(join).toBeEnabled());
    await user.click(join);
    expect(onjoin).toHaveBeenCalledWith({ cameraId: 'cam-1', microphoneId: 'mic-2', speakerId: undefined, cameraOff: false });
  });

  it('measures the microphone with Web Audio and shows the level', async () => {
    let amplitude = 0.1;
    const frames: FrameRequestCallback[] = [];
    const closed = vi.fn(async () => {});
    class FakeAudioContext {
      createMediaStreamSource() { return { connect() {}, disconnect() {} }; }
      createAnalyser() {
        return { fftSize: 0, getFloatTimeDomainData: (a: Float32Array) => a.fill(amplitude) };
      }
      close = closed;
    }
    vi.stubGlobal('AudioContext', FakeAudioContext);
    vi.stubGlobal('requestAnimationFrame', (f: FrameRequestCallback) => frames.push(f));
    vi.stubGlobal('cancelAnimationFrame', () => {});
    try {
      const { user } = show('ok');
      const meter = await screen.findByLabelText('Microphone level');
      await vi.waitFor(() => expect(frames.length).toBeGreaterThan(0));
      frames.shift()!(0);
      await vi.waitFor(() => expect((meter as HTMLMeterElement).value).toBeCloseTo(0.5));
      amplitude = 0.5; // loud: the meter is full, not past it
      frames.shift()!(0);
      await vi.waitFor(() => expect((meter as HTMLMeterElement).value).toBe(1));
      await user.click(screen.getByRole('button', { name: 'Join the call' }));
      expect(closed).toHaveBeenCalled(); // the preview lets go of the microphone before the call takes it
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('explains a refused permission, with where to allow it, and does not let the person join', async () => {
    show('denied', true, 'Open System Settings › Privacy & Security › Camera and allow ClinicDesk, then press Try again.');
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The camera and microphone are blocked for this page.');
    expect(alert).toHaveTextContent('Privacy & Security › Camera');
    expect(screen.getByRole('button', { name: 'Join the call' })).toBeDisabled();
    expect(screen.getByRole('button', { name: 'Try again' })).toBeInTheDocument();
  });

  it('says there is no camera, and lets the person join with sound only', async () => {
    const { onjoin, user } = show('no-camera');
    expect(await screen.findByText('No camera was found.')).toBeInTheDocument();
    expect(media!.requests.map((r) => Boolean(r.video))).toEqual([true, false]);
    const join = screen.getByRole('button', { name: 'Join the call' });
    await vi.waitFor(() => expect(join).toBeEnabled());
    await user.click(join);
    expect(onjoin).toHaveBeenCalledWith(expect.objectContaining({ cameraOff: true, microphoneId: 'mic-1' }));
  });

  it('says when there is no microphone either', async () => {
    show('no-devices');
    expect(await screen.findByRole('alert')).toHaveTextContent('No microphone was found.');
    expect(screen.getByRole('button', { name: 'Join the call' })).toBeDisabled();
  });

  it('says in a sentence when the browser cannot do video (twilio-video isSupported false)', async () => {
    show('ok', false);
    expect(await screen.findByRole('alert')).toHaveTextContent('This browser cannot make video calls.');
    await new Promise((r) => setTimeout(r, 0));
    expect(screen.getByRole('button', { name: 'Join the call' })).toBeDisabled();
  });

  it('says so when the page has no media devices at all', async () => {
    const previous = Object.getOwnPropertyDescriptor(navigator, 'mediaDevices');
    Object.defineProperty(navigator, 'mediaDevices', { value: undefined, configurable: true });
    try {
      render(DevicePreview, { backend: new FakeCallBackend(true), onjoin: vi.fn() });
      expect(await screen.findByRole('alert')).toHaveTextContent('This page cannot reach a camera or microphone.');
    } finally {
      if (previous) Object.defineProperty(navigator, 'mediaDevices', previous);
      else delete (navigator as { mediaDevices?: unknown }).mediaDevices;
    }
  });
});

describe('permission help per browser', () => {
  it.each([
    ['Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0', /Edge/],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', /Firefox/],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36', /Chrome/],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1', /iPhone/],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15', /Safari › Settings/],
  ])('%s', (ua, expected) => {
    expect(permissionHelpFor(ua)).toMatch(expected);
  });
});
