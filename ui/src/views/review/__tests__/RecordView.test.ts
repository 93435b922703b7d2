import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import RecordView from '../RecordView.svelte';
import { record } from './fixtures';

const zone = 'America/New_York';
const entries = () => screen.getAllByTestId('timeline-entry').map((e) => e.textContent!.replace(/\s+/g, ' ').trim());

describe("a past consultation's record", () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it("tells the timeline in order, on the clinic's clock, under each day", async () => {
    backend = fakeBackend({ consultation_record: () => record() });
    render(RecordView, { id: 'a1', timeZone: zone, onBack: vi.fn() });
    expect(await screen.findByRole('heading', { level: 2, name: 'Consultation with Olivia Smith — Mon 2 Mar 2026 09:01' })).toBeInTheDocument();
    expect(entries()).toEqual([
      '09:00:00 Video link text Delivered Your video link: https://clinic.example/v/1',
      '08:00:00 Reminder text Failed Reminder: video at 09:00 The number is not a mobile.',
      '08:58:00 The patient was waiting (joining without a camera)',
      '09:01:00 Consultation started by Dr Amara Okafor',
      '09:01:02 The doctor joined',
      '09:02:00 The patient: Hello doctor',
      '09:02:30 The doctor: Hello Olivia, how is the rash?',
      '09:03:00 The patient agreed to recording (recorded by Dr Amara Okafor)',
      '09:03:10 Recording switched on by Dr Amara Okafor',
      '09:12:00 The patient left after 10 min',
      '09:16:00 Consultation ended by Dr Amara Okafor',
      '10:00:00 Notes amended (amendment 1) by Dr Amara Okafor',
    ]);
    const timeline = screen.getByRole('list', { name: 'Timeline' });
    expect(within(timeline).getAllByRole('heading', { level: 4 }).map((h) => h.textContent)).toEqual(['Sun 1 Mar 2026', 'Mon 2 Mar 2026', 'Tue 3 Mar 2026']);
    // Texts show their state as a pill: delivered green, failed red with why.
    expect(within(timeline).getByText('Delivered')).toHaveClass('pill', 'ok');
    expect(within(timeline).getByText('Failed')).toHaveClass('pill', 'danger');
    // Chat messages are bubbles by author, each findable by its index.
    expect(document.getElementById('message-0')).toHaveClass('message', 'patient');
    expect(document.getElementById('message-1')).toHaveClass('message', 'doctor');
  });

  it('shows the facts, who was in the room, the notes and every version of them', async () => {
    backend = fakeBackend({ consultation_record: () => record() });
    render(RecordView, { id: 'a1', timeZone: zone, onBack: vi.fn() });
    await screen.findByRole('heading', { level: 2 });
    expect(screen.getByText('CD-7KQ2XM')).toBeInTheDocument();
    // The booked time and the actual start are told apart.
    const facts = Object.fromEntries([...document.querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling!.textContent]));
    expect(facts).toMatchObject({
      'Booked for': 'Mon 2 Mar 2026 09:00', Started: 'Mon 2 Mar 2026 09:01', Ended: 'Mon 2 Mar 2026 09:16', Length: '15 min',
    });
    expect(screen.getByText('The doctor: 15 min, joined once')).toBeInTheDocument();
    expect(screen.getByText('The patient: 10 min, joined twice')).toBeInTheDocument();
    const notes = document.getElementById('record-notes')!;
    expect(within(notes).getByRole('heading', { name: 'Notes' })).toBeInTheDocument();
    expect(within(notes).getAllByText(/Continue cream for a week\./)[0]).toHaveTextContent('Rash better. Continue cream for a week.');
    expect(within(notes).getByRole('heading', { name: 'Notes history' })).toBeInTheDocument();
    expect(within(notes).getByText('At the end — Dr Amara Okafor, Mon 2 Mar 2026 09:16')).toBeInTheDocument();
    expect(within(notes).getByText('Amendment 1 — Dr Amara Okafor, Tue 3 Mar 2026 10:00')).toBeInTheDocument();
    expect(screen.queryByText('Fetching when online')).toBeNull();
    expect(screen.queryByText(/Twilio could not be reached/)).toBeNull();
  });

  it('says when no notes were written, and shows no history without amendments', async () => {
    backend = fakeBackend({ consultation_record: () => record({ notes: '', note_versions: [{ version: 0, text: '', saved_at: '2026-03-02T14:16:00Z', saved_by: null }] }) });
    render(RecordView, { id: 'a1', timeZone: zone, onBack: vi.fn() });
    expect(await screen.findByText('No notes were written.')).toBeInTheDocument();
    expect(screen.queryByRole('heading', { name: 'Notes history' })).toBeNull();
  });

  it('shows someone who may not read it that it happened and its texts, and no notes', async () => {
    const texts = record().timeline.filter((e) => e.kind === 'text' || e.kind === 'started' || e.kind === 'ended');
    backend = fakeBackend({
      consultation_record: () => record({ full: false, notes: null, note_versions: [], attendance: [], timeline: texts, chat_removed_at: '2026-04-01T00:00:00Z' }),
    });
    render(RecordView, { id: 'a1', timeZone: zone, onBack: vi.fn() });
    expect(await screen.findByText(
      'You can see that this consultation took place and the texts sent for it. Only Dr Amara Okafor and administrators can see its notes and chat.',
    )).toBeInTheDocument();
    expect(document.getElementById('record-notes')).toBeNull();
    expect(screen.queryByRole('heading', { name: 'Notes' })).toBeNull();
    expect(screen.queryByRole('heading', { name: 'Who was in the room' })).toBeNull();
    expect(entries()).toHaveLength(4);
    expect(screen.queryByText(/removed on/)).toBeNull();
  });

  it('says when the record is still to be fetched, and when the chat was removed', async () => {
    backend = fakeBackend({ consultation_record: () => record({ record_pending: true, chat_removed_at: '2026-04-01T16:00:00Z' }) });
    render(RecordView, { id: 'a1', timeZone: zone, onBack: vi.fn() });
    const pill = await screen.findByText('Fetching when online');
    expect(pill).toHaveClass('pill');
    expect(pill.closest('.banner')).toHaveTextContent(
      'Fetching when online This consultation ended while Twilio could not be reached. Who was in the room and the chat are fetched by themselves when the network returns.',
    );
    expect(screen.getByText("The chat was removed on Wed 1 Apr 2026 12:00 under the clinic's retention rule.")).toBeInTheDocument();
  });

  it('saves the record as a PDF or JSON file and says where, or why not', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    backend = fakeBackend({
      consultation_record: () => record(),
      consultation_export: (args) => args.format === 'pdf'
        ? gate.then(() => ({ path: '/home/rita/Downloads/consultation-CD-7KQ2XM.pdf', bytes: 20480 }))
        : new Refusal({ code: 'storage', message: 'The Downloads folder could not be written to.', field: null }),
    });
    render(RecordView, { id: 'a1', timeZone: zone, onBack: vi.fn() });
    expect(await screen.findByText('Exports contain personal health information: keep them safe.')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Save as PDF' }));
    expect(screen.getByRole('button', { name: 'Saving…' })).toBeDisabled();
    expect(screen.getByRole('button', { name: 'Save as JSON' })).toBeDisabled();
    // "Saving…" is said once, on the button.
    expect(screen.getAllByText('Saving…')).toHaveLength(1);
    release();
    // The folder and the file's name first, then the whole path (which the status line ends with).
    expect(await screen.findByTestId('saved-to')).toHaveTextContent('Saved to Downloads: consultation-CD-7KQ2XM.pdf');
    const status = screen.getByText(/^Saved as/).closest('[role="status"]')!;
    expect(status.textContent).toBe('Saved as /home/rita/Downloads/consultation-CD-7KQ2XM.pdf');
    expect(status.querySelector('.path strong')).toHaveTextContent(/^consultation-CD-7KQ2XM\.pdf$/);
    expect(backend.calls.filter((c) => c.command === 'consultation_export').map((c) => c.args)).toEqual([{ id: 'a1', format: 'pdf' }]);

    await userEvent.click(screen.getByRole('button', { name: 'Save as JSON' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The Downloads folder could not be written to.');
    expect(screen.queryByText(/^Saved as/)).toBeNull();
    expect(screen.queryByTestId('saved-to')).toBeNull();
  });

  it('names the folder and file of a Windows path too', async () => {
    backend = fakeBackend({
      consultation_record: () => record(),
      consultation_export: () => ({ path: 'C:\\Users\\Rita\\Downloads\\consultation-CD-7KQ2XM.json', bytes: 900 }),
    });
    render(RecordView, { id: 'a1', timeZone: zone, onBack: vi.fn() });
    await userEvent.click(await screen.findByRole('button', { name: 'Save as JSON' }));
    expect(await screen.findByTestId('saved-to')).toHaveTextContent('Saved to Downloads: consultation-CD-7KQ2XM.json');
    expect(screen.getByText(/^Saved as/).closest('[role="status"]')!.textContent).toBe('Saved as C:\\Users\\Rita\\Downloads\\consultation-CD-7KQ2XM.json');
  });

  it('prints, and goes back with the button or Escape', async () => {
    const print = vi.spyOn(window, 'print').mockImplementation(() => {});
    const onBack = vi.fn();
    backend = fakeBackend({ consultation_record: () => record(), consultation_printed: () => null });
    render(RecordView, { id: 'a1', timeZone: zone, onBack });
    await userEvent.click(await screen.findByRole('button', { name: 'Print' }));
    expect(print).toHaveBeenCalledOnce();
    expect(backend.calls.filter((c) => c.command === 'consultation_printed').map((c) => c.args)).toEqual([{ id: 'a1' }]);
    await userEvent.keyboard('{Escape}');
    expect(onBack).toHaveBeenCalledTimes(1);
    // The way back shows its key, stays in view while scrolling, and keeps its name.
    const back = screen.getByRole('button', { name: '← Back to the list' });
    expect(back).toHaveTextContent('← Back to the list (Esc)');
    expect(back).toHaveAttribute('aria-keyshortcuts', 'Escape');
    expect(back.parentElement).toHaveClass('bar', 'no-print');
    await userEvent.click(back);
    expect(onBack).toHaveBeenCalledTimes(2);
    print.mockRestore();
  });

  it('does not print a record the core refuses to let out, and says why', async () => {
    const print = vi.spyOn(window, 'print').mockImplementation(() => {});
    backend = fakeBackend({
      consultation_record: () => record(),
      consultation_printed: () => new Refusal({ code: 'not_signed_in', message: 'Please sign in to continue.', field: null }),
    });
    render(RecordView, { id: 'a1', timeZone: zone, onBack: vi.fn() });
    await userEvent.click(await screen.findByRole('button', { name: 'Print' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Please sign in to continue.');
    expect(print).not.toHaveBeenCalled();
    print.mockRestore();
  });

  it("says why a record could not be opened", async () => {
    backend = fakeBackend({ consultation_record: () => new Refusal({ code: 'not_found', message: 'There is no such consultation.', field: null }) });
    render(RecordView, { id: 'a9', timeZone: zone, onBack: vi.fn() });
    expect(await screen.findByRole('alert')).toHaveTextContent('There is no such consultation.');
  });

  it("lists a message's attachments, saves a kept one into Downloads, and says why another is not here", async () => {
    const withFiles = () => {
      const r = record();
      r.timeline.splice(r.timeline.findIndex((e) => e.kind === 'left'), 0, {
        kind: 'message', at: '2026-03-02T14:04:00Z', index: 2, author: 'patient', body: 'Photos attached',
        media: [
          { sid: 'ME1', filename: 'rash photo.jpg', content_type: 'image/jpeg', size: 48_213, state: 'kept' },
          { sid: 'ME2', filename: 'scan.pdf', content_type: 'application/pdf', size: 11_000_000, state: 'too_large' },
          { sid: 'ME3', filename: 'letter.pdf', content_type: 'application/pdf', size: 900, state: 'waiting' },
        ],
      });
      return r;
    };
    let refuse = false;
    URL.createObjectURL = vi.fn(() => 'blob:picture-1');
    URL.revokeObjectURL = vi.fn();
    backend = fakeBackend({
      consultation_record: withFiles,
      consultation_attachment_picture: () => new Uint8Array([0x89, 0x50, 0x4e, 0x47]).buffer,
      consultation_attachment_save: () => refuse
        ? new Refusal({ code: 'unavailable', message: 'The file could not be saved in /home/rita/Downloads.', field: null })
        : { path: '/home/rita/Downloads/rash photo.jpg', bytes: 48_213 },
    });
    render(RecordView, { id: 'a1', timeZone: zone, onBack: vi.fn() });
    const files = await screen.findByRole('list', { name: 'Attachments' });
    const items = within(files).getAllByRole('listitem').map((li) => li.textContent!.replace(/\s+/g, ' ').trim());
    expect(items).toEqual([
      'rash photo.jpg 47 KB Show Save',
      'scan.pdf 10.5 MB not kept: larger than 10 MB',
      'letter.pdf 900 bytes not fetched yet (ClinicDesk fetches it by itself when online)',
    ]);
    // Only the kept file can be shown and saved.
    expect(within(files).getAllByRole('button')).toHaveLength(2);
    await userEvent.click(screen.getByRole('button', { name: 'Show rash photo.jpg' }));
    const shown = await within(files).findByRole('img', { name: 'rash photo.jpg, sent by the patient in the chat' });
    expect(shown).toHaveAttribute('src', 'blob:picture-1');
    await userEvent.click(screen.getByRole('button', { name: 'Hide rash photo.jpg' }));
    expect(within(files).queryByRole('img')).toBeNull();
    expect(URL.revokeObjectURL).toHaveBeenCalledWith('blob:picture-1');
    await userEvent.click(screen.getByRole('button', { name: 'Save rash photo.jpg into Downloads' }));
    expect(await within(files).findByRole('status')).toHaveTextContent('Saved in Downloads as “rash photo.jpg”');
    expect(backend.calls.filter((c) => c.command === 'consultation_attachment_save').map((c) => c.args)).toEqual([{ id: 'a1', mediaSid: 'ME1' }]);
    refuse = true;
    await userEvent.click(screen.getByRole('button', { name: 'Save rash photo.jpg into Downloads' }));
    expect(await within(files).findByRole('alert')).toHaveTextContent('The file could not be saved in /home/rita/Downloads.');
  });

  it('offers no Save to those who see only that the consultation happened', async () => {
    backend = fakeBackend({
      consultation_record: () => {
        const r = record();
        r.full = false;
        r.timeline.splice(r.timeline.findIndex((e) => e.kind === 'left'), 0, { kind: 'message', at: '2026-03-02T14:04:00Z', index: 2, author: 'patient', body: null,
          media: [{ sid: 'ME1', filename: 'rash.jpg', content_type: 'image/jpeg', size: 10, state: 'kept' }] });
        return r;
      },
    });
    render(RecordView, { id: 'a1', timeZone: zone, onBack: vi.fn() });
    const files = await screen.findByRole('list', { name: 'Attachments' });
    expect(within(files).queryByRole('button')).toBeNull();
  });
});
