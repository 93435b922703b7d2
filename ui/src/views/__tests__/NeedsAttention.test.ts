import { afterEach, describe, expect, it } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal, type Handler } from '$lib/platform/testing';
import type { AttentionItem } from '$lib/platform/bindings/AttentionItem';
import type { Patient } from '$lib/platform/bindings/Patient';
import NeedsAttention from '../NeedsAttention.svelte';

function item(over: Partial<AttentionItem>): AttentionItem {
  return {
    patient_name: 'Olivia Smith', patient_phone: '+447400123456', appointment_starts_at: '2030-03-05T09:30:00Z', booking_ref: 'CD-7KQ2XM', fix: 'resend',
    due_at: null, reminder_rule: null, handled_at: null, handled_by: null, id: crypto.randomUUID(), kind: 'confirmation', to: '+447400123456', body: 'Your appointment is confirmed.',
    segments: 1, encoding: 'gsm7', state: 'failed', twilio_sid: null, twilio_status: null, error_code: null,
    error_message: 'Twilio could not be reached; the text was not sent.', attempts: 3, patient_id: 'p1', appointment_id: 'a1',
    created_at: '2030-03-01T10:00:00Z', sent_at: null, final_at: null, ...over,
  };
}

const olivia: Patient = { id: 'p1', full_name: 'Olivia Smith', phone: '+447400123456', date_of_birth: '1984-03-27', sms_consent: true, opted_out_at: null, created_at: '2026-01-01T00:00:00Z', version: 4 };
const newCopy = { ...item({ state: 'pending', error_message: null }), id: 'copy' };

function core(items: AttentionItem[], more: Record<string, Handler> = {}) {
  return fakeBackend({ settings_get: () => ({ time_zone: 'Europe/London' }), texts_needing_attention: () => items, ...more });
}

const row = (name: RegExp) => screen.findByRole('listitem', { name });
const commands = (backend: ReturnType<typeof fakeBackend>, command: string) => backend.calls.filter((c) => c.command === command).map((c) => c.args);

describe('texts that need attention', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('lists who, which appointment and what went wrong, soonest appointment first, with a count', async () => {
    backend = core([
      item({ patient_name: 'Later Patient', appointment_starts_at: '2030-03-06T09:00:00Z', booking_ref: 'CD-LATER1' }),
      item({ patient_name: 'Sooner Patient', appointment_starts_at: '2030-03-04T09:00:00Z', kind: 'reminder', reminder_rule: '24h', state: 'undelivered',
        error_message: 'The phone was switched off or out of reach (Twilio 30003).' }),
    ]);
    render(NeedsAttention);
    const rows = await screen.findAllByRole('listitem');
    expect(rows.map((r) => within(r).getByRole('heading').textContent)).toEqual([expect.stringMatching(/^Sooner Patient/), expect.stringMatching(/^Later Patient/)]);
    expect(rows[0]).toHaveTextContent('Appointment Mon 4 Mar 09:00 · ref');
    expect(rows[0]).toHaveTextContent('Not delivered Reminder (24h) text: The phone was switched off or out of reach (Twilio 30003).');
    expect(screen.getByRole('heading', { name: /Needs attention/ })).toHaveTextContent('Needs attention 2 texts');
  });

  it('says when every text arrived', async () => {
    backend = core([]);
    render(NeedsAttention);
    expect(await screen.findByText('Every text about upcoming appointments arrived.')).toBeInTheDocument();
    expect(screen.queryByRole('listitem')).not.toBeInTheDocument();
  });

  it('sends a text again and takes it off the list', async () => {
    const failed = item({ id: 't-resend' });
    backend = core([failed], { text_resend: () => newCopy });
    render(NeedsAttention);
    await userEvent.click(within(await row(/Olivia Smith/)).getByRole('button', { name: 'Send again' }));
    expect(await screen.findByText('The confirmation text to Olivia Smith is being sent again.')).toBeInTheDocument();
    expect(commands(backend, 'text_resend')).toEqual([{ id: 't-resend' }]);
    expect(screen.queryByRole('listitem')).not.toBeInTheDocument();
  });

  it('marks a text handled after phoning, and the count goes down', async () => {
    backend = core([item({ id: 't-stop', fix: 'phone_patient', state: 'skipped', error_message: 'The patient replied STOP on 3 March.' }), item({ patient_name: 'Noah Smith' })],
      { text_mark_handled: () => null });
    render(NeedsAttention);
    const stopped = await row(/Olivia Smith/);
    expect(within(stopped).queryByRole('button', { name: 'Send again' })).not.toBeInTheDocument();
    await userEvent.click(within(stopped).getByRole('button', { name: 'Mark as handled after phoning' }));
    await expect.poll(() => screen.queryByRole('listitem', { name: /Olivia Smith/ })).toBeNull();
    expect(commands(backend, 'text_mark_handled')).toEqual([{ id: 't-stop' }]);
    expect(screen.getByRole('heading', { name: /Needs attention/ })).toHaveTextContent('Needs attention 1 text');
    // The keyboard moves on to the next text rather than falling back to the page.
    expect(within(screen.getByRole('listitem', { name: /Noah Smith/ })).getByRole('button', { name: 'Send again' })).toHaveFocus();
  });

  it('every row can be marked handled without fixing it', async () => {
    backend = core([item({ id: 't-any', fix: 'correct_number' })], { text_mark_handled: () => null });
    render(NeedsAttention);
    await userEvent.click(within(await row(/Olivia Smith/)).getByRole('button', { name: 'Mark as handled' }));
    expect(await screen.findByText('Every text about upcoming appointments arrived.')).toBeInTheDocument();
    expect(commands(backend, 'text_mark_handled')).toEqual([{ id: 't-any' }]);
  });

  it('records consent only after confirmation, then offers to send again', async () => {
    backend = core([item({ id: 't-consent', fix: 'record_consent', state: 'skipped', error_message: 'Not texted: the patient has not agreed to texts.' })], {
      patient_record_consent: () => ({ ...olivia, sms_consent: true }),
      text_resend: () => newCopy,
    });
    render(NeedsAttention);
    await userEvent.click(within(await row(/Olivia Smith/)).getByRole('button', { name: 'Record that they agree to texts…' }));
    const dialog = await screen.findByRole('dialog', { name: 'Record agreement to texts' });
    expect(commands(backend, 'patient_record_consent')).toEqual([]);
    await userEvent.click(within(dialog).getByRole('button', { name: 'They agreed — record it' }));
    const fixed = await row(/Olivia Smith/);
    expect(await within(fixed).findByText('Recorded that Olivia Smith agrees to texts.')).toBeInTheDocument();
    expect(commands(backend, 'patient_record_consent')).toEqual([{ id: 'p1', agreed: true }]);
    expect(within(fixed).getByRole('button', { name: 'Send again' })).toHaveFocus();
    await userEvent.click(within(fixed).getByRole('button', { name: 'Send again' }));
    await expect.poll(() => commands(backend, 'text_resend')).toEqual([{ id: 't-consent' }]);
  });

  it("opens the patient's record to correct the number, then offers to send again", async () => {
    backend = core([item({ id: 't-number', fix: 'correct_number', error_message: 'This number is not a mobile phone (Twilio 21614).' })], {
      patients_search: () => ({ patients: [{ ...olivia, id: 'someone-else' }, olivia], more: false }),
      patient_update: (args) => ({ ...olivia, phone: '+447400999888', ...(args.patient as object) }),
      text_resend: () => newCopy,
    });
    render(NeedsAttention);
    await userEvent.click(within(await row(/Olivia Smith/)).getByRole('button', { name: 'Correct the number…' }));
    const dialog = await screen.findByRole('dialog', { name: "Correct Olivia Smith's number" });
    const phone = within(dialog).getByLabelText('Mobile number');
    await userEvent.clear(phone);
    await userEvent.type(phone, '+447400999888');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save changes' }));
    const fixed = await row(/Olivia Smith/);
    expect(await within(fixed).findByText('Number saved: +447400999888.')).toBeInTheDocument();
    expect(within(fixed).getByRole('button', { name: 'Send again' })).toHaveFocus();
    const update = commands(backend, 'patient_update')[0];
    expect(update.id).toBe('p1');
    expect(update.patient).toMatchObject({ phone: '+447400999888', date_of_birth: '1984-03-27', sms_consent: true });
    // The version the form was opened at: a change made since (elsewhere) refuses this edit.
    expect(update.expectedVersion).toBe(4);
    await userEvent.click(within(fixed).getByRole('button', { name: 'Send again' }));
    await expect.poll(() => commands(backend, 'text_resend')).toEqual([{ id: 't-number' }]);
  });

  it('keeps an error beside the row that caused it, and the row stays', async () => {
    const refusal = 'Not texted: the patient replied STOP on 3 March. Record their agreement first.';
    backend = core([item({ id: 't-bad', patient_name: 'Olivia Smith' }), item({ id: 't-ok', patient_name: 'Noah Smith' })], {
      text_resend: (args) => (args.id === 't-bad' ? new Refusal({ code: 'conflict', message: refusal, field: null }) : newCopy),
    });
    render(NeedsAttention);
    const bad = await row(/Olivia Smith/);
    await userEvent.click(within(bad).getByRole('button', { name: 'Send again' }));
    expect(await within(bad).findByRole('alert')).toHaveTextContent(refusal);
    expect(within(screen.getByRole('listitem', { name: /Noah Smith/ })).queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.getAllByRole('listitem')).toHaveLength(2);
  });
});
