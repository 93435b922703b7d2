import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import CallView from '../CallView.svelte';
import { FakeCallBackend, FakeTrack, patientParty } from '../testing/call';
import { RECONNECTED_BANNER_MS, ROOM_COMPLETED } from '../call.svelte';

describe('CallView', () => {
  let backend: FakeCallBackend;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(new Date('2026-11-23T10:00:00Z'));
    backend = new FakeCallBackend();
  });
  afterEach(() => vi.useRealTimers());

  function show(props: Partial<{ onend: () => Promise<void>; onrejoin: () => void; onleave: () => void }> = {}) {
    const room = backend.connect('tok', 'room-1', {});
    const phases: string[] = [];
    render(CallView, { session: room, remoteName: 'Ana Silva', onphase: (p: string) => phases.push(p), ...props });
    return { room, phases };
  }
  const user = () => userEvent.setup({ advanceTimers: vi.advanceTimersByTime });

  it('names the other person from the prop, never from the Twilio identity', async () => {
    const { room } = show();
    expect(screen.getByText('Joining the call…')).toBeInTheDocument();
    room.emit('connected', []);
    expect(await screen.findByText(/Waiting for/)).toHaveTextContent('Waiting for Ana Silva to join…');
    room.emit('participantConnected', patientParty);
    expect(await screen.findByText(/camera is off/)).toHaveTextContent('Ana Silva’s camera is off.');
    expect(document.body.textContent).not.toContain(patientParty.identity);
    expect(screen.getByRole('region', { name: 'Video call with Ana Silva' })).toBeInTheDocument();
    room.emit('participantDisconnected', patientParty);
    expect(await screen.findByText(/has left the call/)).toHaveTextContent('Ana Silva has left the call.');
    room.emit('participantConnected', patientParty);
    expect(await screen.findByText(/camera is off/)).toBeInTheDocument();
  });

  it('plays the remote video large and this side small', async () => {
    const { room } = show();
    room.emit('connected', [patientParty]);
    const video = new FakeTrack('video', 'patient-camera');
    room.emit('trackSubscribed', video, patientParty);
    const remote = await screen.findByLabelText('Ana Silva’s video');
    expect(remote.dataset.track).toBe('patient-camera');
    expect(screen.getByLabelText('Your video').dataset.track).toBe('local-camera');
    room.emit('trackUnsubscribed', video, patientParty);
    await vi.advanceTimersByTimeAsync(0);
    expect(screen.queryByLabelText('Ana Silva’s video')).toBeNull();
    expect(video.attached).toEqual([]);
  });

  it('shows "Reconnecting…", then "Reconnected" for a few seconds', async () => {
    const { room, phases } = show();
    room.emit('connected', [patientParty]);
    room.emit('reconnecting', { code: 53001, message: 'Signaling connection disconnected' });
    const status = screen.getByRole('status', { name: '' });
    expect(await within(status).findByText(/Reconnecting…/)).toBeInTheDocument();
    room.emit('reconnected');
    expect(await within(status).findByText('Reconnected.')).toBeInTheDocument();
    expect(within(status).queryByText(/Reconnecting…/)).toBeNull();
    await vi.advanceTimersByTimeAsync(RECONNECTED_BANNER_MS);
    expect(within(status).queryByText('Reconnected.')).toBeNull();
    expect(phases).toEqual(['connecting', 'connected', 'reconnecting', 'reconnected', 'connected']);
  });

  it('runs the timer from joining', async () => {
    const { room } = show();
    await vi.advanceTimersByTimeAsync(3000); // connecting does not count
    room.emit('connected', [patientParty]);
    await vi.advanceTimersByTimeAsync(0);
    expect(screen.getByRole('timer')).toHaveTextContent('0:00');
    await vi.advanceTimersByTimeAsync(83_000);
    expect(screen.getByRole('timer')).toHaveTextContent('1:23');
    expect(screen.getByRole('timer')).toHaveAccessibleName('Call time 1:23');
  });

  it('shows network quality in bars and words', async () => {
    const { room } = show();
    room.emit('connected', [patientParty]);
    room.emit('networkQualityLevelChanged', 1, patientParty);
    room.emit('networkQualityLevelChanged', 4, null);
    expect(await screen.findByRole('img', { name: 'Ana Silva: very poor network' })).toHaveAttribute('data-level', '1');
    expect(screen.getByRole('img', { name: 'Your connection: good network' })).toHaveAttribute('data-level', '4');
  });

  it('mutes and turns the camera off, saying so on the buttons', async () => {
    const { room } = show();
    room.emit('connected', [patientParty]);
    const u = user();
    await u.click(await screen.findByRole('button', { name: /Mute/ }));
    expect(room.microphoneEnabled).toBe(false);
    expect(screen.getByRole('button', { name: /Unmute/ })).toHaveAttribute('aria-pressed', 'true');
    await u.click(screen.getByRole('button', { name: /Turn camera off/ }));
    expect(room.cameraEnabled).toBe(false);
    expect(screen.getByText('Your camera is off')).toBeInTheDocument();
    expect(screen.queryByLabelText('Your video')).toBeNull();
    await u.click(screen.getByRole('button', { name: /Turn camera on/ }));
    expect(room.cameraEnabled).toBe(true);
    expect((await screen.findByLabelText('Your video')).dataset.track).toBe('local-camera');
  });

  it('asks before ending for everyone, and can be talked out of it', async () => {
    const onend = vi.fn(async () => {});
    const { room } = show({ onend });
    room.emit('connected', [patientParty]);
    const u = user();
    await u.click(await screen.findByRole('button', { name: 'End for everyone' }));
    const dialog = screen.getByRole('dialog', { name: 'End the consultation for everyone?' });
    await u.click(within(dialog).getByRole('button', { name: 'Keep talking' }));
    expect(onend).not.toHaveBeenCalled();
    expect(room.disconnects).toBe(0);

    await u.click(screen.getByRole('button', { name: 'End for everyone' }));
    await u.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'End for everyone' }));
    expect(onend).toHaveBeenCalledTimes(1);
    expect(await screen.findByText('The consultation has ended.')).toBeInTheDocument();
    await vi.waitFor(() => expect(screen.getByText('The consultation has ended.').closest('[role=status]')).toHaveFocus());
    expect(room.disconnects).toBe(1);
    expect(screen.queryByRole('button', { name: 'Rejoin' })).toBeNull();
  });

  it('keeps the call when ending fails, and says why', async () => {
    const onend = vi.fn(async () => { throw new Error('Twilio could not be reached. Try again.'); });
    const { room } = show({ onend });
    room.emit('connected', [patientParty]);
    const u = user();
    await u.click(await screen.findByRole('button', { name: 'End for everyone' }));
    await u.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'End for everyone' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Twilio could not be reached. Try again.');
    expect(room.disconnects).toBe(0);
  });

  it('has no End for everyone without onend (the patient side), and Leave offers Rejoin', async () => {
    const onrejoin = vi.fn();
    const onleave = vi.fn();
    const { room } = show({ onrejoin, onleave });
    room.emit('connected', [patientParty]);
    expect(screen.queryByRole('button', { name: 'End for everyone' })).toBeNull();
    const u = user();
    await u.click(await screen.findByRole('button', { name: 'Leave' }));
    expect(onleave).toHaveBeenCalled();
    expect(await screen.findByText('You left the call.')).toBeInTheDocument();
    await u.click(screen.getByRole('button', { name: 'Rejoin' }));
    expect(onrejoin).toHaveBeenCalled();
  });

  it('explains a call that was cut off, and a room someone else completed', async () => {
    const { room } = show();
    room.emit('connected', [patientParty]);
    room.emit('disconnected', { code: 53000, message: 'The connection to Twilio was lost.' });
    expect(await screen.findByText(/The call was cut off/)).toBeInTheDocument();
    expect(screen.getByText(/The connection to Twilio was lost\. \(Twilio 53000\)/)).toBeInTheDocument();

    const other = backend.connect('tok', 'room-1', {});
    render(CallView, { session: other, remoteName: 'Dr Patel' });
    other.emit('connected', []);
    other.emit('disconnected', { code: ROOM_COMPLETED, message: 'Room completed' });
    expect(await screen.findByText('The consultation has ended.')).toBeInTheDocument();
  });
});
