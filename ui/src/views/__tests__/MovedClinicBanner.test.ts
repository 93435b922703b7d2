import { afterEach, describe, expect, it } from 'vitest';
import userEvent from '@testing-library/user-event';
import { render, screen } from '@testing-library/svelte';
import { fakeBackend } from '$lib/platform/testing';
import type { AppStatus } from '$lib/platform/bindings/AppStatus';
import App from '../../App.svelte';

const base: AppStatus = {
  phase: 'signed_out', problem: null, clinic_name: 'Riverside Clinic', profile: null,
  suggested_time_zone: 'Europe/London', data_dir: '/data', trial_keyring: false, desk_server: null, moved: null,
};
const profile = { user_id: 'u1', email: 'ada@clinic.example', full_name: 'Ada', role: 'admin', idle_timeout_minutes: 15 } as const;
const MOVED =
  'This clinic moved onto the clinic server at https://clinic-server:8640/ on 6 Dec 2026. The records on this computer are kept to read only: make changes from a desk joined to the server.';

describe('a clinic that moved onto a clinic server', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  const phases: [string, Partial<AppStatus>, RegExp][] = [
    ['sign-in', { phase: 'signed_out' }, /Sign in to ClinicDesk/],
    ['the workspace', { phase: 'signed_in', profile }, /Sign out/],
  ];
  for (const [name, status, screenText] of phases) {
    it(`says so on ${name}, before anyone tries a change`, async () => {
      backend = fakeBackend({ app_status: () => ({ ...base, ...status, moved: MOVED }) });
      render(App);
      expect(await screen.findByText(screenText)).toBeInTheDocument();
      const banner = screen.getByRole('note', { name: 'Clinic moved' });
      expect(banner).toHaveTextContent('Read only.');
      expect(banner).toHaveTextContent('moved onto the clinic server at https://clinic-server:8640/');
      expect(banner).toHaveTextContent('make changes from a desk joined to the server');
    });
  }

  it('is not shown for a clinic that never moved', async () => {
    backend = fakeBackend({ app_status: () => base });
    render(App);
    await screen.findByText(/Sign in to ClinicDesk/);
    expect(screen.queryByRole('note', { name: 'Clinic moved' })).toBeNull();
  });

  it('appears at the next sign-in in a window left open while the clinic moved', async () => {
    let moved: string | null = null;
    backend = fakeBackend({ app_status: () => ({ ...base, moved }), sign_in: () => profile });
    render(App);
    await screen.findByText(/Sign in to ClinicDesk/);
    expect(screen.queryByRole('note', { name: 'Clinic moved' })).toBeNull();
    moved = MOVED; // the move ran on this computer while the window showed sign-in
    await userEvent.type(screen.getByLabelText('Email'), 'ada@clinic.example');
    await userEvent.type(screen.getByLabelText('Password'), 'correct horse battery{Enter}');
    expect(await screen.findByRole('note', { name: 'Clinic moved' })).toHaveTextContent('kept to read only');
  });
});
