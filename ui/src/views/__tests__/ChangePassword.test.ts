import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import ChangePassword from '../ChangePassword.svelte';

function open() {
  const props = { onclose: vi.fn(), onChanged: vi.fn(), onLocked: vi.fn() };
  render(ChangePassword, props);
  return props;
}

async function fill(current: string, next: string, repeat: string) {
  if (current) await userEvent.type(screen.getByLabelText('Current password'), current);
  if (next) await userEvent.type(screen.getByLabelText('New password'), next);
  if (repeat) await userEvent.type(screen.getByLabelText('Repeat new password'), repeat);
}

/** The message shown beneath an input (Field gives it the id `<input id>-error`). */
function errorUnder(label: string): string | null {
  const input = screen.getByLabelText(label);
  return document.getElementById(`${input.id}-error`)?.textContent ?? null;
}

describe('change password dialog', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('starts in the current password field and changes the password with Enter', async () => {
    backend = fakeBackend({ password_change: () => null });
    const props = open();
    await vi.waitFor(() => expect(screen.getByLabelText('Current password')).toHaveFocus());
    await userEvent.keyboard('correct horse battery');
    await userEvent.tab();
    await userEvent.keyboard('a brand new passphrase');
    await userEvent.tab();
    await userEvent.keyboard('a brand new passphrase{Enter}');
    await vi.waitFor(() => expect(props.onChanged).toHaveBeenCalledOnce());
    expect(props.onChanged.mock.calls[0][0]).toMatch(/signed out/);
    expect(backend.calls).toEqual([
      { command: 'password_change', args: { currentPassword: 'correct horse battery', newPassword: 'a brand new passphrase' } },
    ]);
  });

  it('puts a wrong current password under that field and clears it', async () => {
    backend = fakeBackend({
      password_change: () => new Refusal({ code: 'invalid', message: 'That is not your current password.', field: 'current_password' }),
    });
    const props = open();
    await fill('not my password', 'a brand new passphrase', 'a brand new passphrase');
    await userEvent.click(screen.getByRole('button', { name: 'Change password' }));
    await vi.waitFor(() => expect(errorUnder('Current password')).toBe('That is not your current password.'));
    expect(screen.getByLabelText('Current password')).toHaveValue('');
    expect(screen.getByLabelText('Current password')).toHaveAttribute('aria-invalid', 'true');
    expect(errorUnder('New password')).toBeNull();
    expect(props.onChanged).not.toHaveBeenCalled();
  });

  it("puts the core's rule for new passwords under the new password", async () => {
    backend = fakeBackend({
      password_change: () => new Refusal({ code: 'invalid', message: 'Use at least 10 characters for the password.', field: 'new_password' }),
    });
    open();
    await fill('correct horse battery', 'short', 'short');
    await userEvent.click(screen.getByRole('button', { name: 'Change password' }));
    await vi.waitFor(() => expect(errorUnder('New password')).toBe('Use at least 10 characters for the password.'));
    expect(errorUnder('Current password')).toBeNull();
  });

  it('catches a mistyped repeat without calling the core', async () => {
    backend = fakeBackend({});
    open();
    await fill('correct horse battery', 'a brand new passphrase', 'a brand new passphrasE');
    await userEvent.click(screen.getByRole('button', { name: 'Change password' }));
    expect(errorUnder('Repeat new password')).toBe('The two new passwords are different.');
    expect(backend.calls).toHaveLength(0);
  });

  it('hands a lockout to the workspace, which signs the person out', async () => {
    backend = fakeBackend({
      password_change: () => new Refusal({ code: 'account_locked', message: 'This account is locked after too many failed sign-in attempts.', field: null }),
    });
    const props = open();
    await fill('guess number five', 'a brand new passphrase', 'a brand new passphrase');
    await userEvent.click(screen.getByRole('button', { name: 'Change password' }));
    await vi.waitFor(() => expect(props.onLocked).toHaveBeenCalledWith('This account is locked after too many failed sign-in attempts.'));
  });
});
