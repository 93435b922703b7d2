import { afterEach, describe, expect, it } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, type Handler } from '$lib/platform/testing';
import type { Appointment } from '$lib/platform/bindings/Appointment';
import type { AppointmentChange } from '$lib/platform/bindings/AppointmentChange';
import type { Doctor } from '$lib/platform/bindings/Doctor';
import type { Patient } from '$lib/platform/bindings/Patient';
import type { StaffProfile } from '$lib/platform/bindings/StaffProfile';
import type { TextNote } from '$lib/platform/bindings/TextNote';
import Schedule from '../Schedule.svelte';

const reception: StaffProfile = { user_id: 'u9', email: 'rita@clinic.example', full_name: 'Rita Desk', role: 'reception', idle_timeout_minutes: 15 };
const doctor: Doctor = { id: 'd1', user_id: 'u1', full_name: 'Dr Amara Okafor', email: 'a@x.org', specialization: 'General practice', active: true };
const olivia: Patient = { id: 'p1', full_name: 'Olivia Smith', phone: '+447400123456', date_of_birth: null, sms_consent: false, opted_out_at: null, created_at: '2026-01-01T00:00:00Z' };
const booked: Appointment = {
  id: 'a1', booking_ref: 'CD-7KQ2XM', patient_id: 'p1', patient_name: 'Olivia Smith', doctor_id: 'd1', doctor_name: 'Dr Amara Okafor',
  starts_at: '2030-03-05T09:30:00Z', ends_at: '2030-03-05T10:00:00Z', local_date: '2030-03-05', local_start: '09:30', local_end: '10:00', minutes: 30,
  kind: 'in_person', status: 'scheduled', cancel_reason: null, version: 1,
};
const change = (text: TextNote, over: Partial<Appointment> = {}): AppointmentChange => ({ ...booked, ...over, text });

function clinic(more: Record<string, Handler>) {
  return fakeBackend({
    settings_get: () => ({ clinic_name: 'Riverside', time_zone: 'Europe/London', default_country: 'GB', idle_timeout_minutes: 15, sms_messages_per_second: 1 }),
    doctors_list: () => [doctor],
    appointments_day: () => ({ date: '2030-03-05', time_zone: 'Europe/London', appointments: [booked] }),
    appointment_texts: () => ({ texts: [], planned_reminders: [] }),
    ...more,
  });
}

describe('schedule: what happened to the text after a change', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('a booking that could not be texted is a notice beside the success, not an error', async () => {
    const notTexted: TextNote = { state: 'not_texted', kind: null, message: 'Not texted: the patient has not agreed to texts', text_id: null };
    backend = clinic({ patients_search: () => ({ patients: [olivia], more: false }), appointment_book: () => change(notTexted) });
    render(Schedule, { profile: reception });
    await userEvent.click(await screen.findByRole('button', { name: '+ Book appointment' }));
    await userEvent.type(screen.getByPlaceholderText('Type a name or phone number'), 'oliv');
    await screen.findByRole('option', { name: /Olivia Smith/ }, { timeout: 2000 });
    await userEvent.keyboard('{Enter}');
    await userEvent.selectOptions(within(screen.getByRole('dialog')).getByLabelText('Doctor'), 'd1');
    await userEvent.click(screen.getByRole('button', { name: 'Book appointment' }));

    expect(await screen.findByText(/^Booked Olivia Smith with Dr Amara Okafor at 09:30/)).toHaveClass('banner', 'ok');
    const note = screen.getByText('Not texted: the patient has not agreed to texts').closest('.banner')!;
    expect(note).toHaveClass('warn');
    expect(note).toHaveAttribute('role', 'status');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    // It stays until reception dismisses it: they may need to tell the patient.
    await userEvent.click(within(note as HTMLElement).getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryByText('Not texted: the patient has not agreed to texts')).not.toBeInTheDocument();
  });

  it("a reschedule says the text is queued, from the appointment's dialog", async () => {
    const queued: TextNote = { state: 'queued', kind: 'reschedule', message: 'Reschedule text queued; it goes at 08:00 (quiet hours)', text_id: 't9' };
    backend = clinic({ appointment_reschedule: () => change(queued, { local_start: '11:00', local_end: '11:30', version: 2 }) });
    render(Schedule, { profile: reception });
    await userEvent.click(await screen.findByRole('button', { name: /^09:30 to 10:00, Olivia Smith/ }));
    const dialog = await screen.findByRole('dialog', { name: 'Appointment CD-7KQ2XM' });
    expect(await within(dialog).findByText('No texts for this appointment yet.')).toBeInTheDocument();
    await userEvent.click(within(dialog).getByRole('button', { name: 'Reschedule…' }));
    await userEvent.click(within(dialog).getByRole('button', { name: 'Move appointment' }));

    expect(await screen.findByText(/^Moved Olivia Smith's appointment to 11:00/)).toBeInTheDocument();
    const note = screen.getByText('Reschedule text queued; it goes at 08:00 (quiet hours)').closest('.banner')!;
    expect(note).toHaveClass('info');
    const move = backend.calls.find((c) => c.command === 'appointment_reschedule')!.args;
    expect(move).toMatchObject({ id: 'a1', request: { expected_version: 1 } });
  });
});

describe('schedule on a desk of a clinic server', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it("takes the clinic's time zone and doctors from the desk's first sync, which comes after the screen opened", async () => {
    let synced = false;
    backend = clinic({
      // Before the first sync the desk knows no zone (UTC) and no doctors.
      settings_get: () => ({ clinic_name: 'Riverside', time_zone: synced ? 'Europe/London' : 'UTC', default_country: 'GB', idle_timeout_minutes: 15, sms_messages_per_second: 1 }),
      doctors_list: () => (synced ? [doctor] : []),
    });
    const view = render(Schedule, { profile: reception, deskRevision: 1 });
    expect(await screen.findByText(/times in UTC/)).toBeInTheDocument();
    synced = true;
    view.rerender({ profile: reception, deskRevision: 2 });
    expect(await screen.findByText(/times in Europe\/London/)).toBeInTheDocument();
    expect(within(screen.getByLabelText('Doctor')).getByRole('option', { name: /Dr Amara Okafor/ })).toBeInTheDocument();
  });
});
