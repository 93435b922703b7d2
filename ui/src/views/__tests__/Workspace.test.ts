import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import type { StaffProfile } from '$lib/platform/bindings/StaffProfile';
import Workspace from '../Workspace.svelte';

const profile: StaffProfile = { user_id: 'u1', email: 'rita@clinic.example', full_name: 'Rita Desk', role: 'reception', idle_timeout_minutes: 15 };
const screens = {
  settings_get: () => ({ clinic_name: 'Riverside', time_zone: 'Europe/London', default_country: 'GB', idle_timeout_minutes: 15, sms_messages_per_second: 1 }),
  doctors_list: () => [],
  appointments_day: () => ({ date: '2026-03-02', time_zone: 'Europe/London', appointments: [] }),
  twilio_overview: () => ({ status: { configured: false, settings: null, has_auth_token: false }, health: null }),
};

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
});
