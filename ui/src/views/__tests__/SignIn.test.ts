import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import type { StaffProfile } from '$lib/platform/bindings/StaffProfile';
import SignIn from '../SignIn.svelte';

const profile: StaffProfile = { user_id: 'u1', email: 'ada@clinic.example', full_name: 'Ada', role: 'admin', idle_timeout_minutes: 15 };

describe('sign-in screen', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it("shows the core's refusal and clears the password", async () => {
    backend = fakeBackend({ sign_in: () => new Refusal({ code: 'bad_credentials', message: 'The email or password is not correct.', field: null }) });
    const onSignedIn = vi.fn();
    render(SignIn, { clinicName: 'Riverside Clinic', onSignedIn });
    await userEvent.type(screen.getByLabelText('Email'), 'ada@clinic.example');
    await userEvent.type(screen.getByLabelText('Password'), 'wrong password');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The email or password is not correct.');
    expect(screen.getByLabelText('Password')).toHaveValue('');
    expect(onSignedIn).not.toHaveBeenCalled();
    expect(backend.calls).toEqual([{ command: 'sign_in', args: { email: 'ada@clinic.example', password: 'wrong password' } }]);
  });

  it('signs in with Enter and hands over the profile', async () => {
    backend = fakeBackend({ sign_in: () => profile });
    const onSignedIn = vi.fn();
    render(SignIn, { clinicName: 'Riverside Clinic', onSignedIn });
    await userEvent.type(screen.getByLabelText('Email'), 'ada@clinic.example');
    await userEvent.type(screen.getByLabelText('Password'), 'correct horse battery{Enter}');
    await vi.waitFor(() => expect(onSignedIn).toHaveBeenCalledWith(profile));
  });

  it('asks for both fields before calling the core', async () => {
    backend = fakeBackend({});
    render(SignIn, { clinicName: 'Riverside Clinic', onSignedIn: vi.fn() });
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Enter your email and password.');
    expect(backend.calls).toHaveLength(0);
  });

  it('explains why the person was signed out', () => {
    backend = fakeBackend({});
    render(SignIn, { clinicName: 'Riverside Clinic', notice: 'You were signed out after 15 minutes without activity.', onSignedIn: vi.fn() });
    expect(screen.getByRole('status')).toHaveTextContent('15 minutes without activity');
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Riverside Clinic');
  });
});
