import { afterEach, describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal, type Handler } from '$lib/platform/testing';
import type { TextingSettings } from '$lib/platform/bindings/TextingSettings';
import TextingRules from '../TextingRules.svelte';

const stored: TextingSettings = { reminders: '24h', quiet_hours: '21:00-08:00', settle_seconds: 60, price_per_segment: '0.0079', clinic_phone: '020 7946 0000' };

function core(update: Handler) {
  return fakeBackend({ texting_settings_get: () => stored, texting_settings_update: update });
}

async function retype(label: string, value: string) {
  const input = screen.getByLabelText(label);
  await userEvent.clear(input);
  if (value) await userEvent.type(input, value);
}

describe('texting rules', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('saves and shows what the core stored', async () => {
    backend = core((args) => ({ ...(args.settings as TextingSettings), reminders: '24h,2h' }));
    render(TextingRules);
    expect(await screen.findByDisplayValue('21:00-08:00')).toBeInTheDocument();
    await retype('Reminders', '24h, 2h');
    await retype('Change-text delay (seconds)', '120');
    await userEvent.click(screen.getByRole('button', { name: 'Save texting rules' }));
    expect(await screen.findByText('Texting rules saved.')).toBeInTheDocument();
    expect(screen.getByLabelText('Reminders')).toHaveValue('24h,2h');
    const sent = backend.calls.find((c) => c.command === 'texting_settings_update')!.args.settings;
    expect(sent).toEqual({ ...stored, reminders: '24h, 2h', settle_seconds: 120 });
  });

  it("shows the core's refusal beside the field it is about", async () => {
    const message = 'Quiet hours look like 21:00-08:00, or off.';
    backend = core(() => new Refusal({ code: 'invalid', message, field: 'quiet_hours' }));
    render(TextingRules);
    await screen.findByDisplayValue('21:00-08:00');
    await retype('Quiet hours', '9pm to 8am');
    await userEvent.click(screen.getByRole('button', { name: 'Save texting rules' }));
    const error = await screen.findByText(message);
    expect(error.id).toBe('texting-quiet-error');
    expect(screen.getByLabelText('Quiet hours')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByLabelText('Reminders')).toHaveAttribute('aria-invalid', 'false');
    expect(screen.queryByText('Texting rules saved.')).not.toBeInTheDocument();
  });

  it('asks for whole seconds before calling the core', async () => {
    backend = core(() => stored);
    render(TextingRules);
    await screen.findByDisplayValue('21:00-08:00');
    await retype('Change-text delay (seconds)', '');
    await userEvent.click(screen.getByRole('button', { name: 'Save texting rules' }));
    expect((await screen.findByText(/whole number of seconds/)).id).toBe('texting-settle-error');
    expect(backend.calls.filter((c) => c.command === 'texting_settings_update')).toHaveLength(0);
  });

  it('is read-only for someone who may not change it', async () => {
    backend = core(() => stored);
    render(TextingRules, { readOnly: true });
    expect(await screen.findByDisplayValue('21:00-08:00')).toBeDisabled();
    expect(screen.queryByRole('button', { name: 'Save texting rules' })).not.toBeInTheDocument();
    expect(screen.getByText(/Only an administrator can change these/)).toBeInTheDocument();
  });

  it('turns read-only when the core refuses the change for lack of permission', async () => {
    backend = core(() => new Refusal({ code: 'forbidden', message: 'Only an administrator can change the texting rules.', field: null }));
    render(TextingRules);
    await screen.findByDisplayValue('21:00-08:00');
    await userEvent.click(screen.getByRole('button', { name: 'Save texting rules' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Only an administrator can change the texting rules.');
    expect(screen.getByLabelText('Quiet hours')).toBeDisabled();
  });
});
