import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import type { Doctor } from '$lib/platform/bindings/Doctor';
import type { Patient } from '$lib/platform/bindings/Patient';
import type { TextNote } from '$lib/platform/bindings/TextNote';
import BookingDialog from '../BookingDialog.svelte';

const doctors: Doctor[] = [
  { id: 'd1', user_id: 'u1', full_name: 'Dr Amara Okafor', email: 'a@x.org', specialization: 'General practice', active: true },
  { id: 'd2', user_id: 'u2', full_name: 'Dr Gone', email: 'g@x.org', specialization: 'Retired', active: false },
];
const olivia: Patient = { id: 'p1', full_name: 'Olivia Smith', phone: '+447400123456', date_of_birth: '1984-03-27', sms_consent: true, opted_out_at: null, created_at: '2026-01-01T00:00:00Z' };

const queued: TextNote = { state: 'queued', kind: 'confirmation', message: 'Confirmation text queued', text_id: 't1' };

async function choosePatient() {
  await userEvent.type(screen.getByPlaceholderText('Type a name or phone number'), 'oliv');
  await screen.findByRole('option', { name: /Olivia Smith/ }, { timeout: 2000 });
  await userEvent.keyboard('{Enter}');
}

describe('booking dialog', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('asks for a patient beside the patient field before calling the core', async () => {
    backend = fakeBackend({});
    render(BookingDialog, { doctors, date: '2026-03-02', presetDoctorId: 'd1', presetTime: '09:30', onBooked: vi.fn() });
    await userEvent.click(screen.getByRole('button', { name: 'Book appointment' }));
    expect(await screen.findByText('Choose a patient, or add a new one.')).toBeInTheDocument();
    expect(backend.calls).toHaveLength(0);
  });

  it('offers only active doctors', () => {
    backend = fakeBackend({});
    render(BookingDialog, { doctors, date: '2026-03-02', onBooked: vi.fn() });
    const options = within(screen.getByLabelText('Doctor')).getAllByRole('option').map((o) => o.textContent);
    expect(options).toEqual(['Choose a doctor', 'Dr Amara Okafor — General practice']);
  });

  it('books the chosen patient and reports the appointment', async () => {
    const onBooked = vi.fn();
    backend = fakeBackend({
      patients_search: () => ({ patients: [olivia], more: false }),
      appointment_book: (args) => ({ id: 'a1', ...(args.request as object), text: queued }),
    });
    render(BookingDialog, { doctors, date: '2026-03-02', presetDoctorId: 'd1', presetTime: '09:30', onBooked });
    await choosePatient();
    expect(screen.getByText('Olivia Smith')).toBeInTheDocument();
    await userEvent.click(screen.getByLabelText('Video consultation'));
    await userEvent.click(screen.getByRole('button', { name: 'Book appointment' }));
    await vi.waitFor(() => expect(onBooked).toHaveBeenCalled());
    expect(onBooked.mock.calls[0][0].text).toEqual(queued);
    const booking = backend.calls.find((c) => c.command === 'appointment_book')!.args.request;
    expect(booking).toEqual({ patient_id: 'p1', doctor_id: 'd1', date: '2026-03-02', time: '09:30', minutes: 30, kind: 'video' });
  });

  it('shows a double booking at the top and a bad time beside the time field', async () => {
    let answer = new Refusal({ code: 'conflict', message: 'Dr Amara Okafor is already booked from 09:30 to 10:00.', field: null });
    backend = fakeBackend({ patients_search: () => ({ patients: [olivia], more: false }), appointment_book: () => answer });
    render(BookingDialog, { doctors, date: '2026-03-02', presetDoctorId: 'd1', presetTime: '09:30', onBooked: vi.fn() });
    await choosePatient();
    await userEvent.click(screen.getByRole('button', { name: 'Book appointment' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('already booked from 09:30 to 10:00');

    answer = new Refusal({ code: 'invalid', message: 'That time has already passed.', field: 'time' });
    await userEvent.click(screen.getByRole('button', { name: 'Book appointment' }));
    const timeError = await screen.findByText('That time has already passed.');
    expect(timeError.id).toBe('booking-time-error');
    expect(screen.getByLabelText('Time')).toHaveAttribute('aria-invalid', 'true');
  });
});
