import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { FakeCallBackend } from '$lib/call/testing/call';
import { installMediaDevices } from '$lib/call/testing/media';
import PatientPage from '../PatientPage.svelte';

const b64 = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
const NBF = 1_900_000_000;
const token = `${b64({ alg: 'HS256' })}.${b64({ grants: { identity: 'p-1', video: { room: 'cd-abc' } }, nbf: NBF, exp: NBF + 4500 })}.c2ln`;
const hash = '#' + new URLSearchParams({ t: token, c: 'Riverside Clinic', p: '020 7946 0000', d: 'Dr Amara Okafor', n: 'Olivia', w: new Date((NBF + 900) * 1000).toISOString() }).toString();
const at = (seconds: number) => () => new Date((NBF + seconds) * 1000);

describe("the patient's page", () => {
  afterEach(() => vi.useRealTimers());

  it('greets with the first name, the clinic, the doctor and the time from the link', () => {
    render(PatientPage, { backend: new FakeCallBackend(), hash, clock: at(60) });
    expect(screen.getByRole('heading', { name: 'Hello Olivia' })).toBeInTheDocument();
    expect(screen.getByText('Riverside Clinic')).toBeInTheDocument();
    expect(screen.getByText('Dr Amara Okafor')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Check my camera and microphone' })).toBeInTheDocument();
  });

  it('an early link says when it opens, an expired one says whom to call; a damaged one says to open the text again', () => {
    const early = render(PatientPage, { backend: new FakeCallBackend(), hash, clock: at(-600) });
    expect(screen.getByRole('status')).toHaveTextContent('This link opens at');
    expect(screen.queryByRole('button', { name: 'Check my camera and microphone' })).toBeNull();
    early.unmount();
    const over = render(PatientPage, { backend: new FakeCallBackend(), hash, clock: at(4500) });
    expect(screen.getByRole('alert')).toHaveTextContent('This link has expired. To see Dr Amara Okafor, please call Riverside Clinic on 020 7946 0000.');
    over.unmount();
    render(PatientPage, { backend: new FakeCallBackend(), hash: '#t=broken', clock: at(60) });
    expect(screen.getByRole('heading', { name: 'This link is not complete' })).toBeInTheDocument();
  });

  it('waits while the doctor has not opened the consultation, then joins by itself', async () => {
    HTMLMediaElement.prototype.play = async () => {};
    const media = installMediaDevices('ok');
    try {
      const backend = new FakeCallBackend();
      render(PatientPage, { backend, hash, clock: at(60) });
      const user = userEvent.setup({ delay: null });
      await user.click(screen.getByRole('button', { name: 'Check my camera and microphone' }));
      const enter = await screen.findByRole('button', { name: 'Go to the waiting room' });
      await vi.waitFor(() => expect(enter).toBeEnabled());
      vi.useFakeTimers({ shouldAdvanceTime: true });
      await user.click(enter);
      expect(backend.last.token).toBe(token);
      expect(backend.last.roomName).toBe('cd-abc');
      // The doctor has not started: Twilio has no such room yet.
      backend.last.emit('disconnected', { code: 53106, message: 'Room not found' });
      expect(await screen.findByText('Dr Amara Okafor will let you in shortly.')).toBeInTheDocument();
      expect(backend.rooms.length).toBe(1);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(backend.rooms.length).toBe(2);
      backend.last.emit('connected', []);
      expect(await screen.findByRole('button', { name: /leave/i })).toBeInTheDocument();
    } finally {
      media.restore();
    }
  });
});
