import { afterEach, describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import { fakeBackend } from '$lib/platform/testing';
import type { AppStatus } from '$lib/platform/bindings/AppStatus';
import App from '../../App.svelte';

const base: AppStatus = {
  phase: 'signed_out', problem: null, clinic_name: 'Riverside Clinic', profile: null,
  suggested_time_zone: 'Europe/London', data_dir: '/data', trial_keyring: false, desk_server: null, moved: null,
};
const profile = { user_id: 'u1', email: 'ada@clinic.example', full_name: 'Ada', role: 'admin', idle_timeout_minutes: 15 } as const;

describe('trial mode banner', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  const phases: [string, Partial<AppStatus>, RegExp][] = [
    ['first-run setup', { phase: 'needs_setup' }, /Welcome to ClinicDesk/],
    ['sign-in', { phase: 'signed_out' }, /Sign in to ClinicDesk/],
    ['a start-up problem', { phase: 'unavailable', problem: 'The keyring is locked.' }, /cannot open the clinic/],
    ['the workspace', { phase: 'signed_in', profile }, /Sign out/],
  ];

  for (const [name, status, screenText] of phases) {
    it(`warns against real patient data on ${name} when the keyring is the trial one`, async () => {
      backend = fakeBackend({ app_status: () => ({ ...base, ...status, trial_keyring: true }) });
      render(App);
      expect(await screen.findByText(screenText)).toBeInTheDocument();
      const banner = screen.getByRole('note', { name: 'Trial mode' });
      expect(banner).toHaveTextContent('do not enter real patient information');
      expect(banner).toHaveTextContent('password anyone can find out');
    });
  }

  it('is absent with a real keyring', async () => {
    backend = fakeBackend({ app_status: () => base });
    render(App);
    await screen.findByText(/Sign in to ClinicDesk/);
    expect(screen.queryByRole('note', { name: 'Trial mode' })).toBeNull();
  });
});
