import { describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import type { Appointment } from '$lib/platform/bindings/Appointment';
import type { Doctor } from '$lib/platform/bindings/Doctor';
import DayGrid from '../DayGrid.svelte';

const doctor: Doctor = { id: 'd1', user_id: 'u1', full_name: 'Dr Amara Okafor', email: 'a@x.org', specialization: 'General practice', active: true };
const at = (start: string, end: string, id: string): Appointment => ({
  id, booking_ref: `CD-${id}`, patient_id: 'p1', patient_name: 'Olivia Smith', doctor_id: 'd1', doctor_name: doctor.full_name,
  starts_at: '2030-03-05T09:30:00Z', ends_at: '2030-03-05T10:00:00Z', local_date: '2030-03-05', local_start: start, local_end: end, minutes: 30,
  kind: 'in_person', status: 'scheduled', cancel_reason: null, version: 1,
});
const base = { columns: [doctor], from: 7 * 60, to: 20 * 60, canBook: true, onSlot: () => {}, onOpen: () => {} };

describe('day grid: where it opens', () => {
  it("today: a line at the clinic's time, and the grid scrolled to the hour before it", async () => {
    render(DayGrid, { ...base, appointments: [at('09:30', '10:00', 'a1')], day: '2030-03-05', nowMinutes: 14 * 60 + 5 });
    const grid = screen.getByTestId('day-grid');
    // 1.3 px a minute; 14:05 is 425 minutes after 07:00, and an hour of context shows above it.
    await expect.poll(() => grid.scrollTop).toBe((425 - 60) * 1.3);
    expect(screen.getByTestId('now-line').style.top).toBe(`${425 * 1.3}px`);
  });

  it('another day: no line, scrolled to the first appointment; never moved again under the user', async () => {
    const view = render(DayGrid, { ...base, appointments: [at('11:00', '11:30', 'a2'), at('09:30', '10:00', 'a1')], day: '2030-03-06', nowMinutes: null });
    const grid = screen.getByTestId('day-grid');
    await expect.poll(() => grid.scrollTop).toBe((150 - 60) * 1.3);
    expect(screen.queryByTestId('now-line')).toBeNull();
    grid.scrollTop = 10; // the receptionist scrolls up
    await view.rerender({ ...base, appointments: [at('12:00', '12:30', 'a3')], day: '2030-03-06', nowMinutes: null });
    expect(grid.scrollTop).toBe(10);
    // While the day is loading (null) nothing moves; once loaded, the new day is scrolled to.
    await view.rerender({ ...base, appointments: [], day: null, nowMinutes: null });
    expect(grid.scrollTop).toBe(10);
    await view.rerender({ ...base, appointments: [at('08:00', '08:30', 'a4')], day: '2030-03-07', nowMinutes: null });
    await expect.poll(() => grid.scrollTop).toBe(0);
  });
});

describe('day grid: the doctor’s Start button', () => {
  const badge = (id: string) => ({ appointment_id: id, state: 'scheduled' as const, starting: false, is_own: true });
  it('is offered from two hours before the appointment, not days ahead', () => {
    const inMinutes = (minutes: number, id: string): Appointment => ({
      ...at('09:00', '09:30', id), kind: 'video', starts_at: new Date(Date.now() + minutes * 60_000).toISOString(),
    });
    const soon = inMinutes(30, 'soon');
    const later = inMinutes(6 * 24 * 60, 'later');
    render(DayGrid, { ...base, appointments: [soon, { ...later, local_start: '11:00', local_end: '11:30' }], badges: { soon: badge('soon'), later: badge('later') }, onConsult: () => {} });
    expect(screen.getAllByRole('button', { name: /^Start the video consultation/ })).toHaveLength(1);
  });
});
