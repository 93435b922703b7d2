import { afterEach, describe, expect, it } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal, type Handler } from '$lib/platform/testing';
import type { Patient } from '$lib/platform/bindings/Patient';
import type { StaffProfile } from '$lib/platform/bindings/StaffProfile';
import type { Template } from '$lib/platform/bindings/Template';
import type { TextMessage } from '$lib/platform/bindings/TextMessage';
import Patients from '../Patients.svelte';

const reception: StaffProfile = { user_id: 'u1', email: 'rita@clinic.example', full_name: 'Rita Desk', role: 'reception', idle_timeout_minutes: 15 };
const olivia: Patient = { id: 'p1', full_name: 'Olivia Smith', phone: '+447400123456', date_of_birth: null, sms_consent: true, opted_out_at: null, created_at: '2026-01-01T00:00:00Z' };
const noah: Patient = { ...olivia, id: 'p2', full_name: 'Noah Smith', phone: '+447400999888' };

const template = (name: Template['name'], label: string, is_quick_text: boolean): Template => ({
  name, label, is_quick_text, is_chat_reply: false, purpose: '', body: '', is_default: true, default_body: '', placeholders: [],
});
const templates = [
  template('confirmation', 'Booking confirmation', false),
  template('quick.please_call', 'Please call us', true),
  template('quick.running_late', 'Running late', true),
];
const filled: Record<string, string> = {
  'quick.please_call': 'Hi Olivia, please call Riverside Clinic on 020 7946 0000.',
  'quick.running_late': 'Hi Olivia, the doctor is running about 20 minutes late.',
};
const queued = (args: Record<string, unknown>): TextMessage => ({
  id: 't1', kind: 'custom', to: args.patient === 'p2' ? noah.phone : olivia.phone, body: args.body as string, segments: 1, encoding: 'gsm7', state: 'pending',
  twilio_sid: null, twilio_status: null, error_code: null, error_message: null, attempts: 0, patient_id: args.patient as string, appointment_id: null,
  created_at: '2026-03-02T09:00:00Z', sent_at: null, final_at: null,
});

function core(more: Record<string, Handler> = {}) {
  return fakeBackend({
    patients_search: () => ({ patients: [olivia, noah], more: false }),
    templates_list: () => templates,
    quick_text_for: (args) => filled[args.name as string],
    text_send_to_patient: queued,
    ...more,
  });
}
const commands = (backend: ReturnType<typeof fakeBackend>, command: string) => backend.calls.filter((c) => c.command === command).map((c) => c.args);

async function openFor(name: string) {
  const row = (await screen.findByText(name)).closest('tr')!;
  await userEvent.click(within(row).getByRole('button', { name: 'Text patient…' }));
  return screen.findByRole('dialog', { name: `Text ${name}` });
}

describe('texting a patient from the Patients screen', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('offers only quick texts; choosing one fills the message for that patient', async () => {
    backend = core();
    render(Patients, { profile: reception });
    const dialog = await openFor('Olivia Smith');
    const quick = within(dialog).getByLabelText('Quick text');
    await expect.poll(() => within(quick).queryByRole('option', { name: 'Running late' })).not.toBeNull();
    expect(within(quick).getAllByRole('option').map((o) => o.textContent)).toEqual(['None: write the message', 'Please call us', 'Running late']);
    await userEvent.selectOptions(quick, 'quick.please_call');
    const message = within(dialog).getByLabelText('Message');
    await expect.poll(() => (message as HTMLTextAreaElement).value).toBe(filled['quick.please_call']);
    expect(commands(backend, 'quick_text_for')).toEqual([{ name: 'quick.please_call', patient: 'p1' }]);
    expect(message).toHaveFocus();
    expect(message).toHaveAccessibleDescription(/^57 characters · 1 segment/);
  });

  it('sends the edited message to the patient by id, closes, and says where it was queued', async () => {
    backend = core();
    render(Patients, { profile: reception });
    const dialog = await openFor('Noah Smith');
    const send = within(dialog).getByRole('button', { name: 'Send' });
    expect(send).toBeDisabled();
    await userEvent.type(within(dialog).getByLabelText('Message'), 'Your results are ready.');
    await userEvent.click(send);
    expect(await screen.findByRole('status')).toHaveTextContent('Text queued to +447400999888.');
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(commands(backend, 'text_send_to_patient')).toEqual([{ patient: 'p2', body: 'Your results are ready.' }]);
  });

  it('keeps a refusal in the dialog, by the message, and the message is not lost', async () => {
    const refusal = 'Cannot text: the patient has not agreed to texts.';
    backend = core({ text_send_to_patient: () => new Refusal({ code: 'conflict', message: refusal, field: null }) });
    render(Patients, { profile: reception });
    const dialog = await openFor('Olivia Smith');
    const message = within(dialog).getByLabelText('Message');
    await userEvent.type(message, 'Please call us.');
    await userEvent.keyboard('{Control>}{Enter}{/Control}');
    expect(await within(dialog).findByRole('alert')).toHaveTextContent(refusal);
    expect(screen.getByRole('dialog', { name: 'Text Olivia Smith' })).toBeInTheDocument();
    expect(message).toHaveValue('Please call us.');
    expect(commands(backend, 'text_send_to_patient')).toHaveLength(1);
  });

  it('puts a mistake in the text under the message', async () => {
    const invalid = 'The text contains an invisible control character (U+0007) that phones cannot show. Retype the text around it.';
    backend = core({ text_send_to_patient: () => new Refusal({ code: 'invalid', message: invalid, field: 'body' }) });
    render(Patients, { profile: reception });
    const dialog = await openFor('Olivia Smith');
    const message = within(dialog).getByLabelText('Message');
    await userEvent.type(message, 'Hello');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Send' }));
    await expect.poll(() => message.getAttribute('aria-invalid')).toBe('true');
    expect(message).toHaveAccessibleDescription(new RegExp(`${invalid.replace(/[()+.]/g, '\\$&')}$`));
  });

  it('counts segments as the core does, and says which characters make a text cost more', async () => {
    backend = core();
    render(Patients, { profile: reception });
    const dialog = await openFor('Olivia Smith');
    const message = within(dialog).getByLabelText('Message');
    await userEvent.type(message, 'a'.repeat(161));
    expect(message).toHaveAccessibleDescription('161 characters · 2 segments');
    await userEvent.clear(message);
    await userEvent.type(message, 'See you soon 🙂');
    expect(message).toHaveAccessibleDescription('14 characters · 1 segment · 🙂 makes each segment 70 characters instead of 160');
  });

  it('warns before typing when the patient has not agreed to texts; Escape closes without sending', async () => {
    backend = core({ patients_search: () => ({ patients: [{ ...olivia, sms_consent: false }], more: false }) });
    render(Patients, { profile: reception });
    const dialog = await openFor('Olivia Smith');
    expect(within(dialog).getByText(/has not agreed to texts/)).toBeInTheDocument();
    await userEvent.type(within(dialog).getByLabelText('Message'), 'Hi{Escape}');
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(commands(backend, 'text_send_to_patient')).toEqual([]);
  });

  it('doctors are not offered it', async () => {
    backend = core();
    render(Patients, { profile: { ...reception, role: 'doctor' } });
    await screen.findByText('Olivia Smith');
    expect(screen.queryByRole('button', { name: 'Text patient…' })).not.toBeInTheDocument();
  });
});
