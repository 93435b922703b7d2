import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import type { IncomingText } from '$lib/platform/bindings/IncomingText';
import type { StaffProfile } from '$lib/platform/bindings/StaffProfile';
import Workspace from '../Workspace.svelte';

const profile: StaffProfile = { user_id: 'u1', email: 'rita@clinic.example', full_name: 'Rita Desk', role: 'reception', idle_timeout_minutes: 15 };
const screens = {
  settings_get: () => ({ clinic_name: 'Riverside', time_zone: 'Europe/London', default_country: 'GB', idle_timeout_minutes: 15, sms_messages_per_second: 1 }),
  doctors_list: () => [],
  appointments_day: () => ({ date: '2026-03-02', time_zone: 'Europe/London', appointments: [] }),
  twilio_overview: () => ({ status: { configured: false, settings: null, has_auth_token: false }, health: null }),
  inbox_unread_count: () => 0,
};
const textsScreen = { texts_list: () => [], texts_needing_attention: () => [] };
const reply = (sid: string, patient_name: string): IncomingText => ({
  sid, from: '+447400123456', body: 'Can I come earlier?', received_at: '2026-03-02T09:00:00Z', patient_id: sid, patient_name,
  handling: 'inbox', appointment_id: null, read_at: null,
});

describe('workspace', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('leaves the workspace on sign-out even when the core cannot record it', async () => {
    backend = fakeBackend({
      ...screens,
      sign_out: () => new Refusal({ code: 'storage', message: 'The clinic database could not complete that action.', field: null }),
    });
    const onSignedOut = vi.fn();
    render(Workspace, { profile, clinicName: 'Riverside', onSignedOut });
    await userEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    await vi.waitFor(() => expect(onSignedOut).toHaveBeenCalledWith('You have signed out.'));
    expect(backend.calls.some((c) => c.command === 'sign_out')).toBe(true);
  });

  it('opens the change-password dialog from the user menu with the keyboard', async () => {
    backend = fakeBackend({ ...screens, password_change: () => null });
    render(Workspace, { profile, clinicName: 'Riverside', onSignedOut: vi.fn() });
    const menuButton = screen.getByRole('button', { name: /Rita Desk/ });
    menuButton.focus();
    await userEvent.keyboard('{Enter}');
    expect(menuButton).toHaveAttribute('aria-expanded', 'true');
    const item = screen.getByRole('menuitem', { name: 'Change password…' });
    await vi.waitFor(() => expect(item).toHaveFocus());
    await userEvent.keyboard('{Escape}');
    expect(screen.queryByRole('menu')).toBeNull();
    expect(menuButton).toHaveFocus();

    await userEvent.keyboard('{Enter}');
    await vi.waitFor(() => expect(screen.getByRole('menuitem', { name: 'Change password…' })).toHaveFocus());
    await userEvent.keyboard('{Enter}');
    expect(await screen.findByRole('heading', { name: 'Change your password' })).toBeInTheDocument();
  });

  it('shows no unread count when every reply has been read', async () => {
    backend = fakeBackend({ ...screens });
    render(Workspace, { profile, clinicName: 'Riverside', onSignedOut: vi.fn() });
    await vi.waitFor(() => expect(backend.calls.some((c) => c.command === 'inbox_unread_count')).toBe(true));
    expect(screen.queryByRole('button', { name: /unread/ })).not.toBeInTheDocument();
  });

  it('counts unread replies in the top bar, opens the inbox from it, and counts again after one is read', async () => {
    let unread = [reply('SM1', 'Olivia Smith'), reply('SM2', 'Noah Smith'), reply('SM3', 'Ava Jones')];
    backend = fakeBackend({
      ...screens, ...textsScreen,
      inbox_unread_count: () => unread.length,
      inbox_list: () => unread,
      inbox_mark_read: (args) => {
        const read = unread.find((r) => r.sid === args.sid)!;
        unread = unread.filter((r) => r.sid !== args.sid);
        return { ...read, read_at: '2026-03-02T10:00:00Z' };
      },
    });
    render(Workspace, { profile, clinicName: 'Riverside', onSignedOut: vi.fn() });
    const badge = await screen.findByRole('button', { name: '3 unread replies' });
    expect(badge).toHaveTextContent('3 unread');
    await userEvent.click(badge);
    const inbox = await screen.findByRole('heading', { name: /^Inbox/ });
    expect(screen.getByRole('button', { name: 'Texts', current: 'page' })).toBeInTheDocument();
    await vi.waitFor(() => expect(inbox).toHaveFocus());
    const row = await screen.findByRole('listitem', { name: /Noah Smith/ });
    await userEvent.click(within(row).getByRole('button', { name: 'Mark as read' }));
    expect(await screen.findByRole('button', { name: '2 unread replies' })).toBeInTheDocument();
  });

  it('doctors see the count but no "Mark as read"', async () => {
    backend = fakeBackend({ ...screens, ...textsScreen, inbox_unread_count: () => 1, inbox_list: () => [reply('SM1', 'Olivia Smith')] });
    render(Workspace, { profile: { ...profile, role: 'doctor' }, clinicName: 'Riverside', onSignedOut: vi.fn() });
    await userEvent.click(await screen.findByRole('button', { name: '1 unread reply' }));
    const row = await screen.findByRole('listitem', { name: /Olivia Smith/ });
    expect(within(row).queryByRole('button', { name: 'Mark as read' })).not.toBeInTheDocument();
  });

  it('puts Consultations after Patients for every role, with its Alt shortcut', async () => {
    backend = fakeBackend({ ...screens, consultations_list: () => ({ items: [], next: null }) });
    render(Workspace, { profile, clinicName: 'Riverside', onSignedOut: vi.fn() });
    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect(within(nav).getAllByRole('button').map((b) => b.textContent)).toEqual(['Schedule', 'Patients', 'Consultations', 'Texts']);
    expect(within(nav).getByRole('button', { name: 'Consultations' })).toHaveAttribute('title', 'Alt+3');
    await userEvent.keyboard('{Alt>}3{/Alt}');
    expect(await screen.findByRole('heading', { level: 1, name: 'Consultations' })).toBeInTheDocument();
    expect(within(nav).getByRole('button', { name: 'Consultations', current: 'page' })).toBeInTheDocument();
  });

  it("administrators' tabs keep their order around Consultations", () => {
    backend = fakeBackend({ ...screens });
    render(Workspace, { profile: { ...profile, role: 'admin' }, clinicName: 'Riverside', onSignedOut: vi.fn() });
    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect(within(nav).getAllByRole('button').map((b) => b.textContent)).toEqual(['Schedule', 'Patients', 'Consultations', 'Texts', 'Staff', 'Audit', 'Settings']);
  });

  it("opens a patient's past consultation on the Consultations screen", async () => {
    const olivia = { id: 'p1', full_name: 'Olivia Smith', phone: '+447400123456', date_of_birth: null, sms_consent: true, opted_out_at: null, created_at: '2026-01-01T00:00:00Z' };
    const past = {
      appointment_id: 'a1', starts_at: '2026-03-02T09:00:00Z', patient_id: 'p1', patient_name: 'Olivia Smith', doctor_name: 'Dr Amara Okafor',
      state: 'completed', started_at: '2026-03-02T09:01:00Z', ended_at: '2026-03-02T09:15:00Z', full: false, has_notes: null, chat_messages: null, record_pending: false,
    };
    backend = fakeBackend({
      ...screens,
      patients_search: () => ({ patients: [olivia], more: false }),
      consultations_list: (args) => ((args.filter as { patient_id: string | null }).patient_id === 'p1' ? { items: [past], next: null } : { items: [], next: null }),
      consultation_record: () => ({
        appointment_id: 'a1', booking_ref: 'CD-7KQ2XM', starts_at: past.starts_at, ends_at: '2026-03-02T09:30:00Z', patient_id: 'p1', patient_name: 'Olivia Smith',
        doctor_name: 'Dr Amara Okafor', state: 'completed', started_at: past.started_at, ended_at: past.ended_at, full: false, notes: null, note_versions: [],
        attendance: [], recording_consent_at: null, record_pending: false, chat_removed_at: null, timeline: [],
      }),
    });
    render(Workspace, { profile, clinicName: 'Riverside', onSignedOut: vi.fn() });
    await userEvent.click(screen.getByRole('button', { name: 'Patients' }));
    await screen.findByText('Olivia Smith');
    await userEvent.click(screen.getByRole('button', { name: 'Past consultations' }));
    const dialog = await screen.findByRole('dialog', { name: 'Olivia Smith' });
    const item = await within(dialog).findByRole('button', { name: 'Mon 2 Mar 2026 09:01' });
    expect(within(dialog).getByText('· Dr Amara Okafor')).toBeInTheDocument();
    expect(backend.calls.find((c) => c.command === 'consultations_list')!.args.filter).toMatchObject({ patient_id: 'p1', limit: 5, after: null });
    await userEvent.click(item);
    expect(await screen.findByRole('heading', { level: 2, name: 'Consultation with Olivia Smith — Mon 2 Mar 2026 09:01' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Consultations', current: 'page' })).toBeInTheDocument();
    expect(backend.calls.filter((c) => c.command === 'consultation_record').map((c) => c.args)).toEqual([{ id: 'a1' }]);

    await userEvent.click(screen.getByRole('button', { name: '← Back to the list' }));
    expect(await screen.findByText('No past consultations yet.')).toBeInTheDocument();
  });

  it("says so when a patient has had no video consultation", async () => {
    const olivia = { id: 'p1', full_name: 'Olivia Smith', phone: '+447400123456', date_of_birth: null, sms_consent: true, opted_out_at: null, created_at: '2026-01-01T00:00:00Z' };
    backend = fakeBackend({ ...screens, patients_search: () => ({ patients: [olivia], more: false }), consultations_list: () => ({ items: [], next: null }) });
    render(Workspace, { profile, clinicName: 'Riverside', onSignedOut: vi.fn() });
    await userEvent.click(screen.getByRole('button', { name: 'Patients' }));
    await screen.findByText('Olivia Smith');
    await userEvent.click(screen.getByRole('button', { name: 'Past consultations' }));
    const dialog = await screen.findByRole('dialog', { name: 'Olivia Smith' });
    expect(await within(dialog).findByText('No video consultations yet.')).toBeInTheDocument();
  });
});
