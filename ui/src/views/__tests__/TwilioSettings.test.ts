import { afterEach, describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import type { TwilioOverview } from '$lib/platform/bindings/TwilioOverview';
import TwilioSettings from '../TwilioSettings.svelte';

const configured: TwilioOverview = {
  configured: true,
  overall: 'warning',
  sending_paused: null,
  offline: false,
  status: {
    configured: true,
    has_auth_token: true,
    settings: { account_sid: 'AC00000000000000000000000000000000', api_key_sid: 'SK11111111111111111111111111111111', from: '+15005550006', messaging_service_sid: null, conversations_service_sid: null, media_region: null },
  },
  health: {
    checked_at: '2026-11-22T09:00:00Z',
    overall: 'warning',
    conversations_service_sid: null,
    offline: false,
    items: [
      { part: 'Account', health: 'warning', message: 'This is a Twilio trial account.' },
      { part: 'API key', health: 'ok', message: 'The API key and its secret work.' },
    ],
  },
};

describe('Twilio settings', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('shows the saved identifiers and the last check, but never a secret', async () => {
    backend = fakeBackend({ twilio_overview: () => configured });
    render(TwilioSettings);
    expect(await screen.findByDisplayValue('AC00000000000000000000000000000000')).toBeInTheDocument();
    expect(screen.getByLabelText('API Key Secret')).toHaveValue('');
    expect(screen.getByLabelText('Auth Token')).toHaveValue('');
    expect(screen.getAllByText('Saved. Leave empty to keep it.')).toHaveLength(2);
    expect(screen.getByText('This is a Twilio trial account.')).toBeInTheDocument();
  });

  it('sends empty secrets as "keep" and shows a refusal beside its field', async () => {
    backend = fakeBackend({
      twilio_overview: () => configured,
      twilio_configure: () => new Refusal({ code: 'invalid', message: 'A Messaging Service SID starts with MG followed by 32 letters and digits.', field: 'messaging_service_sid' }),
    });
    render(TwilioSettings);
    await screen.findByDisplayValue('AC00000000000000000000000000000000');
    await userEvent.type(screen.getByLabelText('Messaging Service SID'), 'MG-nope');
    await userEvent.click(screen.getByRole('button', { name: 'Save and check' }));
    const error = await screen.findByText(/starts with MG/);
    expect(error.id).toBe('tw-mg-error');
    const sent = backend.calls.find((c) => c.command === 'twilio_configure')!.args.settings as Record<string, unknown>;
    expect(sent.api_key_secret).toBeNull();
    expect(sent.auth_token).toBeNull();
    expect(sent.messaging_service_sid).toBe('MG-nope');
  });
});
