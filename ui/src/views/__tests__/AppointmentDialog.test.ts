import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import type { Appointment } from '$lib/platform/bindings/Appointment';
import type { ConsultationBadge } from '$lib/platform/bindings/ConsultationBadge';
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

describe('appointment dialog: a consultation left running', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());
  const running: ConsultationBadge = { appointment_id: 'a1', state: 'in_progress', starting: false, is_own: false };

  it('lets an administrator end another doctor\'s running consultation, after saying what ending does', async () => {
    const ended: string[] = [];
    backend = fakeBackend({
      appointment_texts: () => ({ texts: [], planned_reminders: [] }),
      consultation_end: () => ({ appointment_id: 'a1', state: 'completed' }),
    });
    render(AppointmentDialog, { ...props, consultation: running, isAdmin: true, onConsultationEnded: (m: string) => ended.push(m) });
    expect(await screen.findByTestId('left-running')).toHaveTextContent("Dr Amara Okafor's video consultation is still running.");
    await userEvent.click(screen.getByRole('button', { name: 'End the consultation…' }));
    expect(screen.getByText(/the patient leaves the call, the chat closes/)).toBeInTheDocument();
    await vi.waitFor(() => expect(screen.getByRole('button', { name: 'Keep it running' })).toHaveFocus());
    expect(backend.calls.some((c) => c.command === 'consultation_end')).toBe(false);
    await userEvent.click(screen.getByRole('button', { name: 'End for everyone' }));
    await vi.waitFor(() => expect(ended).toHaveLength(1));
    expect(backend.calls.filter((c) => c.command === 'consultation_end').map((c) => c.args)).toEqual([{ id: 'a1' }]);
    expect(ended[0]).toBe("Ended Olivia Smith's video consultation with Dr Amara Okafor; who joined and the chat are kept with it.");
  });

  it("shows the core's sentence next to the button when the end is refused", async () => {
    const sentence = 'Video consultations need Twilio, so the consultation has not finished ending.';
    backend = fakeBackend({
      appointment_texts: () => ({ texts: [], planned_reminders: [] }),
      consultation_end: () => new Refusal({ code: 'unavailable', message: sentence, field: null }),
    });
    render(AppointmentDialog, { ...props, consultation: running, isAdmin: true });
    await userEvent.click(await screen.findByRole('button', { name: 'End the consultation…' }));
    await userEvent.click(screen.getByRole('button', { name: 'End for everyone' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(sentence);
  });

  it('is not offered to anyone but an administrator, nor for their own or a finished consultation', async () => {
    backend = fakeBackend({ appointment_texts: () => ({ texts: [], planned_reminders: [] }) });
    const cases: { consultation?: ConsultationBadge; isAdmin: boolean }[] = [
      { consultation: running, isAdmin: false },
      { consultation: { ...running, is_own: true }, isAdmin: true },
      { consultation: { ...running, state: 'completed' }, isAdmin: true },
      { isAdmin: true },
    ];
    for (const extra of cases) {
      const shown = render(AppointmentDialog, { ...props, ...extra });
      await screen.findByText('Video consultation');
      expect(screen.queryByRole('button', { name: 'End the consultation…' })).toBeNull();
      expect(screen.queryByTestId('left-running')).toBeNull();
      shown.unmount();
    }
  });

  it('offers no Cancel or Reschedule while the consultation runs, and says why (reception)', async () => {
    backend = fakeBackend({ appointment_texts: () => ({ texts: [], planned_reminders: [] }) });
    render(AppointmentDialog, { ...props, consultation: running });
    expect(await screen.findByText(/Its video consultation is running: the appointment can be moved or cancelled once it ends/)).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Cancel appointment…' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Reschedule…' })).toBeNull();
    expect(screen.getByRole('button', { name: 'Text the video link' })).toBeInTheDocument();
  });
});
