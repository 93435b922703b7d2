import { afterEach, describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import type { ClinicSettings } from '$lib/platform/bindings/ClinicSettings';
import type { TwilioOverview } from '$lib/platform/bindings/TwilioOverview';
import type { TextingSettings } from '$lib/platform/bindings/TextingSettings';
import Settings from '../Settings.svelte';

const stored: ClinicSettings = { clinic_name: 'Riverside Clinic', time_zone: 'Europe/London', default_country: 'GB', idle_timeout_minutes: 15, sms_messages_per_second: 1 };
const noTwilio: TwilioOverview = { configured: false, overall: null, sending_paused: null, offline: false, status: { configured: false, has_auth_token: false, settings: null }, health: null };
const rules: TextingSettings = { reminders: '24h', quiet_hours: '21:00-08:00', settle_seconds: 60, price_per_segment: '0.0079', clinic_phone: '' };
const explanation = '12 upcoming appointments will keep their moment in time; their clock times will show in the new zone, Europe/Paris, e.g. 09:00 on Tue 3 Mar becomes 10:00.';

/** A core that asks for confirmation of a time-zone change unless the call carries it. */
function zoneCheckingCore() {
  return fakeBackend({
    settings_get: () => stored,
    twilio_overview: () => noTwilio,
    texting_settings_get: () => rules,
    settings_update: (args) => {
      const settings = args.settings as ClinicSettings;
      if (settings.time_zone !== stored.time_zone && args.confirmTimeZoneChange !== true) {
        return new Refusal({ code: 'conflict', message: explanation, field: 'time_zone' });
      }
      return settings;
    },
  });
}

async function chooseZone(zone: string) {
  const input = await screen.findByDisplayValue('Europe/London');
  await userEvent.clear(input);
  await userEvent.type(input, zone);
  await userEvent.click(screen.getByRole('button', { name: 'Save settings' }));
}

describe('Settings: changing the time zone with appointments booked', () => {
  let backend: ReturnType<typeof zoneCheckingCore>;
  afterEach(() => backend?.reset());

  it("shows the core's explanation and saves only after the confirm button", async () => {
    backend = zoneCheckingCore();
    render(Settings);
    await chooseZone('Europe/Paris');
    expect(await screen.findByText(explanation)).toBeInTheDocument();
    expect(screen.queryByText('Settings saved.')).not.toBeInTheDocument();
    const first = backend.calls.filter((c) => c.command === 'settings_update');
    expect(first).toHaveLength(1);
    expect(first[0].args.confirmTimeZoneChange).toBe(false);

    await userEvent.click(screen.getByRole('button', { name: 'Change to Europe/Paris' }));
    expect(await screen.findByText('Settings saved.')).toBeInTheDocument();
    const updates = backend.calls.filter((c) => c.command === 'settings_update');
    expect(updates).toHaveLength(2);
    expect(updates[1].args.confirmTimeZoneChange).toBe(true);
    expect((updates[1].args.settings as ClinicSettings).time_zone).toBe('Europe/Paris');
    expect(screen.queryByText(explanation)).not.toBeInTheDocument();
  });

  it('keeping the saved zone puts it back and sends nothing more', async () => {
    backend = zoneCheckingCore();
    render(Settings);
    await chooseZone('Europe/Paris');
    await screen.findByText(explanation);
    await userEvent.click(screen.getByRole('button', { name: 'Keep Europe/London' }));
    expect(screen.getByLabelText('Time zone')).toHaveValue('Europe/London');
    expect(screen.queryByText(explanation)).not.toBeInTheDocument();
    expect(backend.calls.filter((c) => c.command === 'settings_update')).toHaveLength(1);
  });

  it('an explanation given for one zone is withdrawn when another zone is typed', async () => {
    backend = zoneCheckingCore();
    render(Settings);
    await chooseZone('Europe/Paris');
    await screen.findByText(explanation);
    await userEvent.type(screen.getByLabelText('Time zone'), 'x');
    expect(screen.queryByRole('button', { name: /Change to/ })).not.toBeInTheDocument();
  });

  it('an unknown zone is still shown as a mistake beside the field, with no confirm button', async () => {
    backend = fakeBackend({
      settings_get: () => stored,
      twilio_overview: () => noTwilio,
      texting_settings_get: () => rules,
      settings_update: () => new Refusal({ code: 'invalid', message: '"Moon/Base" is not a time zone ClinicDesk knows.', field: 'time_zone' }),
    });
    render(Settings);
    await chooseZone('Moon/Base');
    const error = await screen.findByText(/is not a time zone/);
    expect(error.id).toBe('settings-zone-error');
    expect(screen.queryByRole('button', { name: /Change to/ })).not.toBeInTheDocument();
  });
});
