import { afterEach, describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend } from '$lib/platform/testing';
import type { TextMessage } from '$lib/platform/bindings/TextMessage';
import Texts from '../Texts.svelte';

function text(over: Partial<TextMessage>): TextMessage {
  return {
    id: crypto.randomUUID(), kind: 'custom', to: '+447400123456', body: 'Your appointment is confirmed.', segments: 1, encoding: 'gsm7',
    state: 'delivered', twilio_sid: 'SM1', twilio_status: 'delivered', error_code: null, error_message: null, attempts: 1,
    patient_id: null, appointment_id: null, created_at: '2026-11-22T09:00:00Z', sent_at: null, final_at: null, ...over,
  };
}

/** Nothing needs attention and no reply waits: the log below is what these tests look at. */
const quietWorklist = { settings_get: () => ({ time_zone: 'Europe/London' }), texts_needing_attention: () => [], inbox_list: () => [] };

describe('texts screen', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('says in words why a text did not arrive, and what costs more', async () => {
    backend = fakeBackend({
      ...quietWorklist,
      texts_list: () => [
        text({ state: 'failed', error_code: 21614, error_message: 'This number is not a mobile phone, so it cannot receive texts (Twilio 21614).' }),
        text({ state: 'skipped', error_message: 'SMS not configured' }),
        text({ body: 'Café 🙂', encoding: 'ucs2' }),
      ],
    });
    render(Texts);
    expect(await screen.findByText(/not a mobile phone/)).toBeInTheDocument();
    expect(screen.getByText('Failed', { selector: '.pill' })).toBeInTheDocument();
    expect(screen.getByText('Not sent', { selector: '.pill' })).toBeInTheDocument();
    expect(screen.getByText(/special characters make this text cost more/)).toBeInTheDocument();
  });

  it('filters by status through the core and says when nothing matches', async () => {
    backend = fakeBackend({ ...quietWorklist, texts_list: (args) => (args.status === 'failed' ? [] : [text({})]) });
    render(Texts);
    await screen.findByText('Delivered', { selector: '.pill' });
    await userEvent.click(screen.getByRole('button', { name: 'Failed' }));
    expect(await screen.findByText('No texts like that')).toBeInTheDocument();
    expect(backend.calls.filter((c) => c.command === 'texts_list').map((c) => c.args.status)).toEqual([null, 'failed']);
  });
});
