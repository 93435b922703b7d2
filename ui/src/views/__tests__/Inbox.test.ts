import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal, type Handler } from '$lib/platform/testing';
import type { IncomingText } from '$lib/platform/bindings/IncomingText';
import type { Patient } from '$lib/platform/bindings/Patient';
import Inbox from '../Inbox.svelte';

function reply(over: Partial<IncomingText>): IncomingText {
  return {
    sid: `SM${crypto.randomUUID().replaceAll('-', '')}`, from: '+447400123456', body: 'Can I bring my daughter?', received_at: '2026-03-02T14:05:00Z',
    patient_id: 'p1', patient_name: 'Olivia Smith', handling: 'inbox', appointment_id: null, read_at: null, ...over,
  };
}

const empty = 'No replies waiting. Replies that confirm (C or YES) or stop texts (STOP) are handled automatically.';
const commands = (backend: ReturnType<typeof fakeBackend>, command: string) => backend.calls.filter((c) => c.command === command).map((c) => c.args);

describe('inbox of replies', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  function core(replies: () => IncomingText[], more: Record<string, Handler> = {}) {
    return fakeBackend({ settings_get: () => ({ time_zone: 'America/New_York' }), inbox_list: replies, ...more });
  }

  it('shows who wrote, when on the clinic clock, and the message as plain text; unknown numbers by number', async () => {
    backend = core(() => [
      reply({ body: 'Running late <b>sorry</b>\nsee you soon' }),
      reply({ from: '+447700900999', patient_id: null, patient_name: null, body: 'Who is this?', received_at: '2026-03-01T09:00:00Z' }),
    ]);
    render(Inbox, { canHandleReplies: true, onRead: vi.fn() });
    const olivia = await screen.findByRole('listitem', { name: /Olivia Smith/ });
    expect(within(olivia).getByRole('heading')).toHaveTextContent('Olivia Smith +447400123456');
    expect(olivia).toHaveTextContent('Mon 2 Mar 09:05'); // 14:05 UTC is 09:05 in New York
    const body = within(olivia).getByText(/Running late/);
    expect(body.textContent).toBe('Running late <b>sorry</b>\nsee you soon');
    expect(body.querySelector('b')).toBeNull();
    const stranger = screen.getByRole('listitem', { name: /\+447700900999/ });
    expect(within(stranger).getByRole('heading')).toHaveTextContent('+447700900999 not a patient on record');
    expect(commands(backend, 'inbox_list')).toEqual([{ unreadOnly: true }]);
    expect(screen.getByRole('heading', { name: /Inbox/ })).toHaveTextContent('Inbox 2 unread replies');
  });

  it('says nothing is waiting, and what is handled without anyone', async () => {
    backend = core(() => []);
    render(Inbox, { canHandleReplies: true, onRead: vi.fn() });
    expect(await screen.findByText(empty)).toBeInTheDocument();
    expect(screen.queryByRole('listitem')).not.toBeInTheDocument();
  });

  it('marks a reply read: it leaves the list, the count is refreshed and the keyboard moves on', async () => {
    let unread = [reply({ sid: 'SM-first' }), reply({ sid: 'SM-second', patient_name: 'Noah Smith', patient_id: 'p2' })];
    backend = core(() => unread, {
      inbox_mark_read: (args) => {
        const read = unread.find((r) => r.sid === args.sid)!;
        unread = unread.filter((r) => r.sid !== args.sid);
        return { ...read, read_at: '2026-03-02T15:00:00Z' };
      },
    });
    const onRead = vi.fn();
    render(Inbox, { canHandleReplies: true, onRead });
    const first = await screen.findByRole('listitem', { name: /Olivia Smith/ });
    await userEvent.click(within(first).getByRole('button', { name: 'Mark as read' }));
    expect(await screen.findByText('Marked as read: the reply from Olivia Smith.')).toBeInTheDocument();
    expect(commands(backend, 'inbox_mark_read')).toEqual([{ sid: 'SM-first' }]);
    expect(screen.queryByRole('listitem', { name: /Olivia Smith/ })).not.toBeInTheDocument();
    expect(onRead).toHaveBeenCalledTimes(1);
    expect(within(screen.getByRole('listitem', { name: /Noah Smith/ })).getByRole('button', { name: 'Mark as read' })).toHaveFocus();

    await userEvent.keyboard('{Enter}');
    expect(await screen.findByText(empty)).toBeInTheDocument();
    expect(onRead).toHaveBeenCalledTimes(2);
    expect(screen.getByRole('heading', { name: 'Inbox' })).toHaveFocus();
  });

  it('keeps a refusal beside its reply, and the reply stays', async () => {
    backend = core(() => [reply({ sid: 'SM-x' })], {
      inbox_mark_read: () => new Refusal({ code: 'not_found', message: 'That reply is no longer in the inbox.', field: null }),
    });
    const onRead = vi.fn();
    render(Inbox, { canHandleReplies: true, onRead });
    const row = await screen.findByRole('listitem', { name: /Olivia Smith/ });
    await userEvent.click(within(row).getByRole('button', { name: 'Mark as read' }));
    expect(await within(row).findByRole('alert')).toHaveTextContent('That reply is no longer in the inbox.');
    expect(screen.getByRole('listitem', { name: /Olivia Smith/ })).toBeInTheDocument();
    expect(onRead).not.toHaveBeenCalled();
  });

  it('doctors read the inbox but leave marking and replying to the desk', async () => {
    backend = core(() => [reply({})]);
    render(Inbox, { canHandleReplies: false, onRead: vi.fn() });
    const row = await screen.findByRole('listitem', { name: /Olivia Smith/ });
    expect(within(row).queryByRole('button', { name: 'Mark as read' })).not.toBeInTheDocument();
    expect(within(row).queryByRole('button', { name: 'Reply…' })).not.toBeInTheDocument();
  });

  it("replies to a patient on their record's number; a number with no patient offers no reply", async () => {
    const olivia: Patient = { id: 'p1', full_name: 'Olivia Smith', phone: '+447400123456', date_of_birth: null, sms_consent: true, opted_out_at: null, created_at: '2026-01-01T00:00:00Z' };
    backend = core(() => [reply({ sid: 'SM-p' }), reply({ sid: 'SM-anon', from: '+447700900999', patient_id: null, patient_name: null })], {
      patient_get: () => olivia,
      templates_list: () => [],
      text_send_to_patient: (args) => ({ id: 't1', to: olivia.phone, body: args.body }),
    });
    const onRead = vi.fn();
    render(Inbox, { canHandleReplies: true, onRead });
    const stranger = await screen.findByRole('listitem', { name: /\+447700900999/ });
    expect(within(stranger).queryByRole('button', { name: 'Reply…' })).not.toBeInTheDocument();
    const row = screen.getByRole('listitem', { name: /Olivia Smith/ });
    await userEvent.click(within(row).getByRole('button', { name: 'Reply…' }));
    const dialog = await screen.findByRole('dialog', { name: 'Text Olivia Smith' });
    await userEvent.type(within(dialog).getByLabelText('Message'), 'Yes, of course.');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Send' }));
    expect(await within(row).findByRole('status')).toHaveTextContent('Text queued to +447400123456.');
    expect(backend.calls.filter((c) => c.command === 'patient_get').map((c) => c.args)).toEqual([{ id: 'p1' }]);
    expect(commands(backend, 'text_send_to_patient')).toEqual([{ patient: 'p1', body: 'Yes, of course.' }]);
    // Answering is not reading: the reply waits until someone marks it.
    expect(onRead).not.toHaveBeenCalled();
    expect(screen.getByRole('listitem', { name: /Olivia Smith/ })).toBeInTheDocument();
  });
});
