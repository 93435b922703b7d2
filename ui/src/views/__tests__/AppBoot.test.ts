import { afterEach, describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import { fakeBackend } from '$lib/platform/testing';
import type { AppStatus } from '$lib/platform/bindings/AppStatus';
import App from '../../App.svelte';

const signedOut: AppStatus = {
  phase: 'signed_out', problem: null, clinic_name: 'Riverside Clinic', profile: null,
  suggested_time_zone: 'Europe/London', data_dir: '/data', trial_keyring: false, desk_server: null, moved: null,
};

describe('start-up status handed over by the shell', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => {
    backend?.reset();
    delete window.__CLINICDESK_BOOT__;
  });

  it('draws the sign-in form in the first render, with no spinner, before app_status answers', () => {
    window.__CLINICDESK_BOOT__ = signedOut;
    backend = fakeBackend({ app_status: () => new Promise(() => {}) });
    render(App);
    expect(screen.getByText('Sign in to ClinicDesk')).toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Riverside Clinic' })).toBeInTheDocument();
    expect(screen.queryByText(/Opening ClinicDesk/)).toBeNull();
  });

  it('still asks app_status, and follows its answer', async () => {
    window.__CLINICDESK_BOOT__ = { ...signedOut, phase: 'needs_setup', clinic_name: null };
    backend = fakeBackend({ app_status: () => signedOut });
    render(App);
    expect(screen.getByText(/Welcome to ClinicDesk/)).toBeInTheDocument();
    expect(await screen.findByText('Sign in to ClinicDesk')).toBeInTheDocument();
    expect(backend.calls.map((c) => c.command)).toContain('app_status');
  });

  it('shows the spinner until app_status answers when the shell handed nothing over', async () => {
    backend = fakeBackend({ app_status: () => signedOut });
    render(App);
    expect(screen.getByText(/Opening ClinicDesk/)).toBeInTheDocument();
    expect(await screen.findByText('Sign in to ClinicDesk')).toBeInTheDocument();
  });
});
