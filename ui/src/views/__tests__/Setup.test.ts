import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import Setup from '../Setup.svelte';

async function fill(confirm: string) {
  await userEvent.type(screen.getByLabelText('Clinic name'), 'Riverside Clinic');
  await userEvent.type(screen.getByLabelText('Your name'), 'Ada Lovelace');
  await userEvent.type(screen.getByLabelText('Email'), 'ada@clinic.example');
  await userEvent.type(screen.getByLabelText('Password'), 'correct horse battery');
  await userEvent.type(screen.getByLabelText('Repeat password'), confirm);
}

describe('first-run setup', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('suggests the computer time zone and catches a mistyped password without calling the core', async () => {
    backend = fakeBackend({});
    render(Setup, { suggestedTimeZone: 'Europe/Dublin', onDone: vi.fn(), onJoined: vi.fn() });
    expect(screen.getByLabelText('Time zone')).toHaveValue('Europe/Dublin');
    await fill('correct horse batterY');
    await userEvent.click(screen.getByRole('button', { name: 'Create clinic' }));
    expect(await screen.findByText('The two passwords are different.')).toBeInTheDocument();
    expect(backend.calls).toHaveLength(0);
  });

  it("puts the core's refusal beside the field it names", async () => {
    backend = fakeBackend({ set_up: () => new Refusal({ code: 'invalid', message: '"Mars/Base" is not a time zone ClinicDesk knows.', field: 'time_zone' }) });
    render(Setup, { suggestedTimeZone: 'UTC', onDone: vi.fn(), onJoined: vi.fn() });
    await fill('correct horse battery');
    await userEvent.click(screen.getByRole('button', { name: 'Create clinic' }));
    const error = await screen.findByText(/is not a time zone/);
    expect(error.id).toBe('setup-time-zone-error');
  });

  it('creates the clinic with the sample data when asked', async () => {
    const onDone = vi.fn();
    backend = fakeBackend({ set_up: () => ({ user_id: 'u1', email: 'ada@clinic.example', full_name: 'Ada Lovelace', role: 'admin', idle_timeout_minutes: 15 }) });
    render(Setup, { suggestedTimeZone: 'Europe/London', onDone, onJoined: vi.fn() });
    await fill('correct horse battery');
    await userEvent.click(screen.getByRole('button', { name: 'Create clinic' }));
    await vi.waitFor(() => expect(onDone).toHaveBeenCalled());
    expect(onDone.mock.calls[0][1]).toBe('Riverside Clinic');
    const args = backend.calls[0].args as { request: { clinic: { time_zone: string; default_country: string } }; loadSample: boolean };
    expect(args.loadSample).toBe(true);
    expect(args.request.clinic).toMatchObject({ time_zone: 'Europe/London', default_country: 'GB' });
  });

  it('joins a clinic server instead, keeping nothing the core refused and placing its sentence by the field', async () => {
    const onJoined = vi.fn();
    let attempts = 0;
    backend = fakeBackend({
      desk_join: () => (++attempts === 1
        ? new Refusal({ code: 'invalid', message: 'The clinic server must be reached over https (passwords and patient details travel on this link).', field: 'server_url' })
        : { desk: 'Front desk', clinic: 'Riverside Clinic' }),
    });
    render(Setup, { suggestedTimeZone: 'UTC', onDone: vi.fn(), onJoined });
    await userEvent.click(screen.getByRole('radio', { name: /Join a clinic server/ }));
    expect(screen.queryByLabelText('Clinic name')).not.toBeInTheDocument();
    const address = screen.getByLabelText('Clinic server address');
    await userEvent.clear(address);
    await userEvent.type(address, 'http://clinic-server:8640');
    await userEvent.type(screen.getByLabelText('Desk credential'), 'k'.repeat(43));
    await userEvent.click(screen.getByRole('button', { name: 'Join clinic server' }));
    const error = await screen.findByText(/must be reached over https/);
    expect(error.id).toBe('join-server-error');
    expect(onJoined).not.toHaveBeenCalled();
    await userEvent.clear(address);
    await userEvent.type(address, 'https://clinic-server:8640');
    await userEvent.click(screen.getByRole('button', { name: 'Join clinic server' }));
    await vi.waitFor(() => expect(onJoined).toHaveBeenCalledWith({ desk: 'Front desk', clinic: 'Riverside Clinic' }));
    expect(backend.calls.at(-1)?.args).toEqual({ serverUrl: 'https://clinic-server:8640', credential: 'k'.repeat(43), certificate: null });
  });
});
