import { afterEach, describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import type { Appointment } from '$lib/platform/bindings/Appointment';
import AppointmentDialog from '../AppointmentDialog.svelte';

const video: Appointment = {
  id: 'a1', booking_ref: 'CD-7KQ2XM', patient_id: 'p1', patient_name: 'Olivia Smith', doctor_id: 'd1', doctor_name: 'Dr Amara Okafor',
  starts_at: '2030-03-05T09:30:00Z', ends_at: '2030-03-05T10:00:00Z', local_date: '2030-03-05', local_start: '09:30', local_end: '10:00', minutes: 30,
  kind: 'video', status: 'scheduled', cancel_reason: null, version: 1,
};
const props = { appointment: video, canBook: true, timeZone: 'Europe/London', onClose: () => {}, onChanged: () => {} };

describe('appointment dialog: the video link', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('texts the patient the link and says where it went; the texts list is read again', async () => {
    backend = fakeBackend({
      appointment_texts: () => ({ texts: [], planned_reminders: [] }),
      consultation_invite: () => ({ id: 't1', kind: 'invite', to: '+447400123456' }),
    });
    render(AppointmentDialog, props);
    await userEvent.click(await screen.findByRole('button', { name: 'Text the video link' }));
    expect(await screen.findByRole('status')).toHaveTextContent('The video link is on its way to +447400123456.');
    expect(backend.calls.filter((c) => c.command === 'consultation_invite').map((c) => c.args)).toEqual([{ id: 'a1' }]);
    expect(backend.calls.filter((c) => c.command === 'appointment_texts').length).toBe(2);
  });

  it("shows the core's sentence when there is no call page yet", async () => {
    const sentence = 'There is no call page for patients yet. An administrator publishes it in Settings (Video).';
    backend = fakeBackend({
      appointment_texts: () => ({ texts: [], planned_reminders: [] }),
      consultation_invite: () => new Refusal({ code: 'conflict', message: sentence, field: null }),
    });
    render(AppointmentDialog, props);
    await userEvent.click(await screen.findByRole('button', { name: 'Text the video link' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(sentence);
  });

  it('is not offered for an in-person appointment, nor to a doctor', async () => {
    backend = fakeBackend({ appointment_texts: () => ({ texts: [], planned_reminders: [] }) });
    const first = render(AppointmentDialog, { ...props, appointment: { ...video, kind: 'in_person' } });
    await screen.findByText('In person');
    expect(screen.queryByRole('button', { name: 'Text the video link' })).toBeNull();
    first.unmount();
    render(AppointmentDialog, { ...props, canBook: false });
    await screen.findByText('Video consultation');
    expect(screen.queryByRole('button', { name: 'Text the video link' })).toBeNull();
  });
});
