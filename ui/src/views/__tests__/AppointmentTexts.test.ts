import { afterEach, describe, expect, it } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import type { AppointmentText } from '$lib/platform/bindings/AppointmentText';
import type { TextTimeline } from '$lib/platform/bindings/TextTimeline';
import AppointmentTexts from '../AppointmentTexts.svelte';

function text(over: Partial<AppointmentText>): AppointmentText {
  return {
    due_at: null, reminder_rule: null, handled_at: null, handled_by: null, id: crypto.randomUUID(), kind: 'confirmation', to: '+447400123456', body: 'See you soon.',
    segments: 1, encoding: 'gsm7', state: 'delivered', twilio_sid: 'SM1', twilio_status: 'delivered', error_code: null, error_message: null, attempts: 1,
    patient_id: 'p1', appointment_id: 'a1', created_at: '2030-03-01T10:00:00Z', sent_at: '2030-03-01T10:00:05Z', final_at: '2030-03-01T10:00:09Z', ...over,
  };
}

function show(timeline: TextTimeline | Refusal) {
  const backend = fakeBackend({ appointment_texts: () => timeline });
  render(AppointmentTexts, { appointmentId: 'a1', timeZone: 'Europe/London' });
  return backend;
}

describe("an appointment's texts", () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('shows each text with its kind, state and reason in words, and the reminders still to come', async () => {
    backend = show({
      texts: [
        text({ kind: 'confirmation' }),
        text({ kind: 'reschedule', state: 'skipped', sent_at: null, final_at: null, error_message: 'Withdrawn: the appointment moved again before this text went.' }),
        text({ kind: 'reminder', reminder_rule: '24h', state: 'pending', sent_at: null, final_at: null, due_at: '2030-03-05T08:00:00Z' }),
        text({ kind: 'cancellation', state: 'failed', final_at: '2030-03-01T10:00:09Z', error_message: 'This number is not a mobile phone (Twilio 21614).' }),
      ],
      planned_reminders: [{ rule: '2h', due_at: '2030-03-06T07:30:00Z' }],
    });
    const items = await screen.findAllByRole('listitem');
    expect(items).toHaveLength(5);
    expect(items[0]).toHaveTextContent(/^Confirmation\s*Delivered/);
    expect(items[0]).toHaveTextContent('Written Fri 1 Mar 10:00 · sent Fri 1 Mar 10:00 · delivered Fri 1 Mar 10:00');
    expect(items[1]).toHaveTextContent(/Reschedule\s*Not sent/);
    expect(items[1]).toHaveTextContent('Withdrawn: the appointment moved again before this text went.');
    expect(within(items[2]).getByText('Waiting to send — due Tue 5 Mar 08:00')).toBeInTheDocument();
    expect(items[2]).toHaveTextContent('Reminder (24h)');
    expect(items[3]).toHaveTextContent(/Cancellation\s*Failed/);
    expect(items[3]).toHaveTextContent('This number is not a mobile phone (Twilio 21614).');
    expect(items[4]).toHaveTextContent('Reminder (2h) planned for Wed 6 Mar 07:30');
  });

  it("times are on the clinic's clock", async () => {
    backend = fakeBackend({ appointment_texts: () => ({ texts: [], planned_reminders: [{ rule: '24h', due_at: '2030-03-04T23:30:00Z' }] }) });
    render(AppointmentTexts, { appointmentId: 'a1', timeZone: 'Pacific/Auckland' });
    expect(await screen.findByText('Reminder (24h) planned for Tue 5 Mar 12:30')).toBeInTheDocument();
  });

  it('says when there are no texts yet', async () => {
    backend = show({ texts: [], planned_reminders: [] });
    expect(await screen.findByText('No texts for this appointment yet.')).toBeInTheDocument();
    expect(backend.calls).toEqual([{ command: 'appointment_texts', args: { id: 'a1' } }]);
  });

  it('shows why the texts could not be loaded', async () => {
    backend = show(new Refusal({ code: 'not_found', message: 'That appointment could not be found.', field: null }));
    expect(await screen.findByRole('alert')).toHaveTextContent('That appointment could not be found.');
  });
});
