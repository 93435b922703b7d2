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
});
