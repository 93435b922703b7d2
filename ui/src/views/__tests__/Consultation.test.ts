import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal, type Handler } from '$lib/platform/testing';
import type { Appointment } from '$lib/platform/bindings/Appointment';
import type { ConsultationStatus } from '$lib/platform/bindings/ConsultationStatus';
import Consultation from '../consultation/Consultation.svelte';

const appointment: Appointment = {
  id: 'a1', booking_ref: 'CD-7KQ2XM', patient_id: 'p1', patient_name: 'Olivia Smith', doctor_id: 'd1', doctor_name: 'Dr Amara Okafor',
  starts_at: '2030-03-05T09:30:00Z', ends_at: '2030-03-05T10:00:00Z', local_date: '2030-03-05', local_start: '09:30', local_end: '10:00', minutes: 30,
  kind: 'video', status: 'scheduled', cancel_reason: null, version: 1,
};
const status = (over: Partial<ConsultationStatus> = {}): ConsultationStatus => ({
  appointment_id: 'a1', state: 'scheduled', starting: false, started_at: null, ended_at: null, recording_consent_at: null, recording: false,
  is_own: true, notes: '', participants: [], record_pending: false, ...over,
});
const running = status({ state: 'in_progress', started_at: '2030-03-05T09:29:00Z' });
const joinAnswer = {
  live_chat: false,
  token: { token: 'jwt', identity: 'd-1', room: 'cd-r', patient_identity: 'p-1', chat_service_sid: 'IS1', conversation_sid: 'CH1', expires_at: '2030-03-05T10:30:00Z', ttl_seconds: 3600 },
};
const chatView = { messages: [{ index: 0, author: 'patient', body: 'Hello doctor', media: [], sent_at: '2030-03-05T09:30:00Z' }], doctor_read_index: null, patient_read_index: null, closed: false };

function desk(more: Record<string, Handler>) {
  return fakeBackend({
    consultation_messages: () => chatView,
    consultation_mark_read: () => 0,
    consultation_call_report: () => ({ appointment_id: 'a1', phase: 'connected', message: null, at: '2030-03-05T09:31:00Z' }),
    consultation_open_in_browser: () => null,
    ...more,
  });
}

describe('the doctor\'s consultation screen', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('Twilio refusing the start: its sentence at the top, and the notes still save', async () => {
    backend = desk({
      consultation_status: () => status(),
      consultation_start: () => new Refusal({ code: 'unavailable', message: 'Twilio could not be reached to start the video consultation.', field: null }),
      consultation_note: (args) => status({ notes: args.text as string }),
    });
    render(Consultation, { appointment, timeZone: 'Europe/London', start: true, onBack: () => {} });
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Twilio could not be reached to start the video consultation. You can still write your notes.',
    );
    expect(await screen.findByRole('button', { name: 'Start consultation' })).toBeEnabled();
    await userEvent.type(screen.getByLabelText('Consultation notes'), 'Rash improving');
    await vi.waitFor(() => expect(backend.calls.filter((c) => c.command === 'consultation_note').at(-1)?.args).toEqual({ id: 'a1', text: 'Rash improving' }), { timeout: 3000 });
    expect(await screen.findByText(/^Saved at/)).toBeInTheDocument();
  });

  it('started on a computer whose window has no WebRTC: the call opens in the browser, the chat and notes stay here', async () => {
    backend = desk({
      consultation_status: () => status(), consultation_start: () => running, consultation_join: () => joinAnswer,
      consultation_quick_replies: () => ['Hello Olivia, I will be with you in a minute.'],
    });
    render(Consultation, { appointment, timeZone: 'Europe/London', start: true, onBack: () => {} });
    expect(await screen.findByText('The call runs in your web browser')).toBeInTheDocument();
    // The host is chosen before joining, so this window only asks for a chat token.
    expect(backend.calls.find((c) => c.command === 'consultation_join')!.args).toEqual({ id: 'a1', inWindow: false });
    // The clinic's chat replies (templates), filled in by the core, are offered in the chat.
    const replies = await screen.findByRole('group', { name: 'Quick responses' });
    expect(within(replies).getByRole('button', { name: 'Hello Olivia, I will be with you in a minute.' })).toBeInTheDocument();
    expect(await screen.findByText('You are in the call (in your browser).', {}, { timeout: 4000 })).toBeInTheDocument();
    expect(backend.calls.map((c) => c.command)).toContain('consultation_open_in_browser');
    expect(await screen.findByText('Hello doctor')).toBeInTheDocument();
    expect(screen.getByTestId('consultation-state')).toHaveTextContent('In progress');
  });

  it('end for everyone asks first, then shows the consultation completed', async () => {
    let state = running;
    backend = desk({
      consultation_status: () => state,
      consultation_join: () => joinAnswer,
      consultation_end: () => (state = status({ state: 'completed', started_at: running.started_at, ended_at: '2030-03-05T09:50:00Z', participants: [{ role: 'patient', joined_at: '2030-03-05T09:30:00Z', left_at: '2030-03-05T09:50:00Z', seconds: 1200 }] })),
    });
    render(Consultation, { appointment, timeZone: 'Europe/London', onBack: () => {} });
    await userEvent.click(await screen.findByRole('button', { name: 'End for everyone' }));
    const dialog = screen.getByRole('dialog');
    expect(backend.calls.map((c) => c.command)).not.toContain('consultation_end');
    await userEvent.click(within(dialog).getByRole('button', { name: 'End for everyone' }));
    expect(await screen.findByText('Consultation completed')).toBeInTheDocument();
    expect(screen.getByTestId('consultation-state')).toHaveTextContent('Completed');
    expect(screen.getByText('The patient')).toBeInTheDocument();
  });

  it('another doctor\'s consultation: the state only', async () => {
    backend = desk({ consultation_status: () => status({ is_own: false, notes: null }) });
    render(Consultation, { appointment, timeZone: 'Europe/London', start: true, onBack: () => {} });
    expect(await screen.findByText(/This is Dr Amara Okafor's consultation/)).toBeInTheDocument();
    expect(screen.queryByLabelText('Consultation notes')).toBeNull();
    expect(backend.calls.map((c) => c.command)).not.toContain('consultation_start');
  });
});
