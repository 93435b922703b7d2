import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend } from '$lib/platform/testing';
import type { Appointment } from '$lib/platform/bindings/Appointment';
import type { DeskStatus } from '$lib/platform/bindings/DeskStatus';
import type { Doctor } from '$lib/platform/bindings/Doctor';
import type { PendingChange } from '$lib/platform/bindings/PendingChange';
import DeskBadge from '../DeskBadge.svelte';
import DeskChanges from '../DeskChanges.svelte';
import DayGrid from '../DayGrid.svelte';
import Staff from '../Staff.svelte';
import Settings from '../Settings.svelte';

const change = (id: string, summary: string, refusal: string | null = null): PendingChange => ({
  client_id: `c-${id}`, entity_id: `a-${id}`, summary, made_by: 'Rita Reception', made_at: '2030-03-05T09:00:00Z', refusal,
});
const desk = (over: Partial<DeskStatus> = {}): DeskStatus => ({
  connection: 'connected', last_synced_at: '2030-03-05T09:01:00Z', revision: 3, server_url: 'https://clinic-server:8640/',
  waiting: [], needs_attention: [], ...over,
});

describe('a desk of a clinic server', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('says in the top bar whether the server is reached and what is waiting or refused', () => {
    const view = render(DeskBadge, { status: desk(), onOpen: vi.fn() });
    expect(screen.getByRole('button')).toHaveTextContent('Clinic server: connected');
    view.rerender({ status: desk({ connection: 'offline', waiting: [change('1', 'Book Ana Lima'), change('2', 'Book Ben Okafor')] }), onOpen: vi.fn() });
    expect(screen.getByRole('button')).toHaveTextContent('Offline · 2 changes waiting');
    expect(screen.getByRole('button').getAttribute('aria-label')).toMatch(/changes are saved here and sent when it is back/);
    view.rerender({ status: desk({ connection: 'connected', needs_attention: [change('3', 'Book Ana Lima', 'Dr Grey is already booked then.')] }), onOpen: vi.fn() });
    expect(screen.getByRole('button')).toHaveTextContent('1 change needs attention');
    view.rerender({ status: desk({ connection: 'needs_sign_in' }), onOpen: vi.fn() });
    expect(screen.getByRole('button')).toHaveTextContent('Sign in again to sync');
  });

  it("lists refused changes with the server's sentence and marks one done", async () => {
    backend = fakeBackend({ desk_dismiss: () => null });
    const onChanged = vi.fn();
    render(DeskChanges, {
      status: desk({
        waiting: [change('1', 'Move Ben Okafor with Dr Grey, 2030-03-06 11:30 to 2030-03-06 15:00')],
        needs_attention: [change('2', 'Book Ana Lima with Dr Grey, 2030-03-06 10:30', 'Dr Meredith Grey already has an appointment from 10:30 to 10:50.')],
      }),
      open: true,
      onChanged,
    });
    const refused = screen.getByText('Book Ana Lima with Dr Grey, 2030-03-06 10:30').closest('li') as HTMLElement;
    expect(within(refused).getByText(/already has an appointment from 10:30/)).toBeInTheDocument();
    expect(screen.getByText(/Move Ben Okafor/)).toBeInTheDocument();
    await userEvent.click(within(refused).getByRole('button', { name: 'Done' }));
    await vi.waitFor(() => expect(onChanged).toHaveBeenCalled());
    expect(backend.calls).toEqual([{ command: 'desk_dismiss', args: { clientId: 'c-2' } }]);
  });

  it('marks an appointment not yet confirmed by the server on the day grid, for eyes and screen readers', () => {
    const doctor: Doctor = { id: 'd1', user_id: 'u1', full_name: 'Dr Meredith Grey', email: 'g@x.org', specialization: 'GP', active: true };
    const a: Appointment = {
      id: 'a1', booking_ref: 'CD-AAAAAA', patient_id: 'p1', patient_name: 'Ana Lima', doctor_id: 'd1', doctor_name: doctor.full_name,
      starts_at: '2030-03-05T10:30:00Z', ends_at: '2030-03-05T10:50:00Z', local_date: '2030-03-05', local_start: '10:30', local_end: '10:50',
      minutes: 20, kind: 'in_person', status: 'scheduled', cancel_reason: null, version: 1,
    };
    const base = { columns: [doctor], appointments: [a], from: 7 * 60, to: 20 * 60, canBook: true, onSlot: () => {}, onOpen: () => {} };
    const view = render(DayGrid, { ...base, unconfirmed: new Set(['a1']) });
    expect(screen.getByText('Not confirmed')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /Ana Lima.*not yet confirmed by the clinic server/ })).toBeInTheDocument();
    view.rerender({ ...base, unconfirmed: new Set() });
    expect(screen.queryByText('Not confirmed')).toBeNull();
  });

  it("shows staff as the server's list: nothing to add, change or deactivate here", async () => {
    backend = fakeBackend({
      users_list: () => [{ id: 'u1', email: 'desk@clinic.example', full_name: 'Rita Reception', role: 'reception', active: true, locked_until: null, created_at: '2030-01-01T00:00:00Z' }],
      doctors_list: () => [],
    });
    render(Staff, { desk: true });
    expect(await screen.findByText('Rita Reception')).toBeInTheDocument();
    expect(screen.getByRole('note')).toHaveTextContent(/kept on the clinic server/);
    expect(screen.queryByRole('button', { name: /Add staff member/ })).toBeNull();
    expect(screen.queryByRole('button', { name: /Deactivate|Set password/ })).toBeNull();
    expect(screen.getByLabelText('Role of Rita Reception')).toBeDisabled();
  });

  it("leaves the clinic-wide settings, texts and Twilio to the server, and keeps this desk's idle time", async () => {
    backend = fakeBackend({
      settings_get: () => ({ clinic_name: 'Riverside Clinic', time_zone: 'Europe/London', default_country: 'GB', idle_timeout_minutes: 15, sms_messages_per_second: 1 }),
      settings_update: (args) => args.settings,
    });
    render(Settings, { desk: true });
    const name = await screen.findByDisplayValue('Riverside Clinic');
    expect(name).toHaveAttribute('readonly');
    expect(screen.getByLabelText('Country for phone numbers')).toBeDisabled();
    expect(screen.queryByText(/Twilio account/i)).toBeNull();
    expect(screen.queryByRole('button', { name: 'Load sample clinic' })).toBeNull();
    const idle = screen.getByLabelText(/Sign out automatically after/);
    await userEvent.clear(idle);
    await userEvent.type(idle, '30');
    await userEvent.click(screen.getByRole('button', { name: 'Save settings' }));
    expect(await screen.findByText('Settings saved.')).toBeInTheDocument();
    const saved = backend.calls.find((c) => c.command === 'settings_update')?.args.settings as { idle_timeout_minutes: number; clinic_name: string };
    expect(saved).toMatchObject({ idle_timeout_minutes: 30, clinic_name: 'Riverside Clinic' });
    expect(backend.calls.map((c) => c.command)).not.toContain('twilio_overview');
  });
});
