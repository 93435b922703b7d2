import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import type { Appointment } from '$lib/platform/bindings/Appointment';
import type { WaitingPatient } from '$lib/platform/bindings/WaitingPatient';
import WaitingRoom from '../WaitingRoom.svelte';

const chime = vi.hoisted(() => vi.fn());
vi.mock('$lib/chime', () => ({ chime }));

const appointment = (id: string, start: string): Appointment => ({
  id, booking_ref: `CD-${id}`, patient_id: `p-${id}`, patient_name: 'Olivia Smith', doctor_id: 'd1', doctor_name: 'Dr Amara Okafor',
  starts_at: '2030-03-05T09:00:00Z', ends_at: '2030-03-05T09:30:00Z', local_date: '2030-03-05', local_start: start, local_end: '09:30', minutes: 30,
  kind: 'video', status: 'scheduled', cancel_reason: null, version: 1,
});
const olivia: WaitingPatient = {
  appointment_id: 'a1', patient_name: 'Olivia Smith', doctor_name: 'Dr Amara Okafor', local_start: '09:00', is_own: true,
  since: '2030-03-05T08:52:00Z', device_check: 'passed',
};
const liam: WaitingPatient = { ...olivia, appointment_id: 'a2', patient_name: 'Liam Brown', local_start: '09:30', is_own: false, device_check: 'camera_off' };

describe('the waiting room above the day view', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => {
    backend?.reset();
    chime.mockClear();
  });

  it('shows who waits since when, chimes once per arrival, and Start admits them', async () => {
    let answer: WaitingPatient[] = [olivia];
    backend = fakeBackend({ consultations_waiting: () => answer });
    const onStart = vi.fn();
    render(WaitingRoom, {
      active: true, appointments: [appointment('a1', '09:00'), appointment('a2', '09:30')], timeZone: 'UTC',
      onStart, everyMs: 30,
    });
    const row = await screen.findByTestId('waiting-patient');
    expect(row).toHaveTextContent("Olivia Smith is in the waiting room for Dr Amara Okafor's video appointment at 09:00");
    expect(row).toHaveTextContent('since 08:52 · camera and microphone checked');
    expect(chime).toHaveBeenCalledTimes(1);
    // Still waiting on the next rounds: no second chime.
    await vi.waitFor(() => expect(backend.calls.filter((c) => c.command === 'consultations_waiting').length).toBeGreaterThan(2));
    expect(chime).toHaveBeenCalledTimes(1);
    // Someone else arrives: a chime, and no Start for an appointment that is not the caller's.
    answer = [olivia, liam];
    await vi.waitFor(() => expect(screen.getAllByTestId('waiting-patient')).toHaveLength(2));
    expect(chime).toHaveBeenCalledTimes(2);
    expect(screen.getAllByTestId('waiting-patient')[1]).toHaveTextContent("Liam Brown is in the waiting room for Dr Amara Okafor's video appointment at 09:30");
    expect(screen.getAllByTestId('waiting-patient')[1]).toHaveTextContent('joining without their camera');
    expect(screen.getAllByRole('button', { name: /Start the video consultation/ })).toHaveLength(1);
    await userEvent.click(screen.getByRole('button', { name: 'Start the video consultation with Olivia Smith' }));
    expect(onStart).toHaveBeenCalledWith(expect.objectContaining({ id: 'a1' }));
    // Olivia left and came back: announced again.
    answer = [liam];
    await vi.waitFor(() => expect(screen.getAllByTestId('waiting-patient')).toHaveLength(1));
    answer = [liam, olivia];
    await vi.waitFor(() => expect(screen.getAllByTestId('waiting-patient')).toHaveLength(2));
    expect(chime).toHaveBeenCalledTimes(3);
  });

  it('on another day the doctor is offered today instead of Start', async () => {
    backend = fakeBackend({ consultations_waiting: () => [olivia] });
    const onShowToday = vi.fn();
    render(WaitingRoom, { active: true, appointments: [], timeZone: 'UTC', onStart: vi.fn(), onShowToday, everyMs: 1000 });
    expect(await screen.findByTestId('waiting-patient')).toHaveTextContent('at 09:00');
    expect(screen.queryByRole('button', { name: /Start/ })).toBeNull();
    await userEvent.click(screen.getByRole('button', { name: 'Show today' }));
    expect(onShowToday).toHaveBeenCalled();
  });

  it('asks nothing until the screen is ready, and says why nobody shows when it cannot look', async () => {
    backend = fakeBackend({ consultations_waiting: () => new Refusal({ code: 'unavailable', message: 'ClinicDesk could not reach Twilio (no internet connection?), so the day view cannot say when they wait.', field: null }) });
    const view = render(WaitingRoom, { active: false, appointments: [], timeZone: 'UTC', everyMs: 20 });
    await new Promise((r) => setTimeout(r, 80));
    expect(backend.calls).toHaveLength(0);
    await view.rerender({ active: true, appointments: [], timeZone: 'UTC', everyMs: 20 });
    expect(await screen.findByText(/could not reach Twilio/)).toBeInTheDocument();
    expect(screen.queryByTestId('waiting-patient')).toBeNull();
  });
});
