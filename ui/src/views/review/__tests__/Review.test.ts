import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import type { ConsultationFilter } from '$lib/platform/bindings/ConsultationFilter';
import type { SearchHit } from '$lib/platform/bindings/SearchHit';
import Review from '../Review.svelte';
import ConsultationList from '../ConsultationList.svelte';
import { doctor, doctors, reception, record, settings, summary } from './fixtures';

const listCalls = (backend: ReturnType<typeof fakeBackend>) =>
  backend.calls.filter((c) => c.command === 'consultations_list').map((c) => c.args.filter as ConsultationFilter);
const firstPage: ConsultationFilter = { doctor_id: null, patient_id: null, from: null, to: null, has_notes: false, has_chat: false, after: null, limit: null };

describe('the Consultations screen: the list', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('lists past consultations newest first and appends the next page on "Show more"', async () => {
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors,
      consultations_list: (args) => (args.filter as ConsultationFilter).after === 'mark-2'
        ? { items: [summary('a3', 'Ava Jones', { started_at: '2026-02-27T15:00:00Z', ended_at: null, state: 'in_progress' })], next: null }
        : { items: [summary('a1', 'Olivia Smith', { record_pending: true }), summary('a2', 'Noah Smith', { has_notes: false, chat_messages: 1 })], next: 'mark-2' },
    });
    render(Review, { profile: doctor });
    expect(await screen.findByRole('heading', { level: 1, name: 'Consultations' })).toBeInTheDocument();
    const rows = await screen.findAllByTestId('consultation-row');
    expect(rows).toHaveLength(2);
    // The clinic's clock (New York), the length from start to end, notes and chat for the doctor.
    expect(within(rows[0]).getByRole('button', { name: 'Mon 2 Mar 2026 09:01' })).toBeInTheDocument();
    expect(rows[0]).toHaveTextContent('Olivia Smith');
    expect(rows[0]).toHaveTextContent('12 min 5 s');
    expect(rows[0]).toHaveTextContent('3 messages');
    expect(rows[1]).toHaveTextContent(/Noah Smith.*No.*1 message$/);
    // A consultation whose end was not heard from Twilio says so in words, explained under the list.
    const pill = within(rows[0]).getByText('Fetching when online');
    expect(pill).toHaveClass('pill', 'warn');
    expect(pill).toHaveAttribute('title', expect.stringMatching(/^This consultation ended while Twilio could not be reached\./));
    expect(within(rows[1]).queryByText('Fetching when online')).toBeNull();
    expect(screen.getByText(/^Fetching when online: these consultations ended while Twilio could not be reached\. Who was in the room and the chat are fetched by themselves when the network returns\.$/)).toBeInTheDocument();

    await userEvent.click(screen.getByRole('button', { name: 'Show more' }));
    await vi.waitFor(() => expect(screen.getAllByTestId('consultation-row')).toHaveLength(3));
    const third = screen.getAllByTestId('consultation-row')[2];
    expect(third).toHaveTextContent(/Ava Jones.*In progress/);
    expect(within(third).getByRole('button')).toHaveFocus();
    expect(screen.queryByRole('button', { name: 'Show more' })).toBeNull();
    expect(listCalls(backend)).toEqual([firstPage, { ...firstPage, after: 'mark-2' }]);
  });

  it('sends each filter to the core, shows its refusal beside the filter, and clears them', async () => {
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors,
      patients_search: () => ({ patients: [{ id: 'p1', full_name: 'Olivia Smith', phone: '+12025550123', date_of_birth: null, sms_consent: true, opted_out_at: null, created_at: '2026-01-01T00:00:00Z' }], more: false }),
      consultations_list: (args) => {
        const f = args.filter as ConsultationFilter;
        if (f.from && f.to && f.to < f.from) return new Refusal({ code: 'invalid', message: 'The end date is before the start date.', field: 'to' });
        return { items: f.doctor_id ? [] : [summary('a1', 'Olivia Smith')], next: null };
      },
    });
    render(Review, { profile: doctor });
    await screen.findAllByTestId('consultation-row');
    expect(screen.queryByRole('button', { name: 'Clear filters' })).toBeNull();

    await userEvent.selectOptions(screen.getByLabelText('Doctor'), 'Dr Sam Lee');
    expect(await screen.findByText('No consultation matches these filters.')).toBeInTheDocument();
    expect(screen.getAllByRole('button', { name: 'Clear filters' })).toHaveLength(1);
    await userEvent.type(screen.getByLabelText('Patient'), 'oli');
    await screen.findByRole('option', { name: /Olivia Smith/ }, { timeout: 2000 });
    await userEvent.keyboard('{Enter}');
    expect(screen.getByRole('button', { name: 'Any patient' })).toBeInTheDocument();
    await fireEvent.input(screen.getByLabelText('From'), { target: { value: '2026-03-10' } });
    await fireEvent.input(screen.getByLabelText('To'), { target: { value: '2026-03-01' } });
    const to = screen.getByLabelText('To');
    await vi.waitFor(() => expect(to).toHaveAttribute('aria-invalid', 'true'));
    expect(screen.getByText('The end date is before the start date.')).toHaveAttribute('id', 'review-to-error');
    expect(screen.getByLabelText('From')).toHaveAttribute('aria-invalid', 'false');

    await fireEvent.input(to, { target: { value: '2026-03-31' } });
    await userEvent.click(screen.getByLabelText('Has notes'));
    await vi.waitFor(() => expect(listCalls(backend).at(-1)).toEqual({
      doctor_id: 'd-lee', patient_id: 'p1', from: '2026-03-10', to: '2026-03-31', has_notes: true, has_chat: false, after: null, limit: null,
    }));
    expect(screen.queryByText('The end date is before the start date.')).toBeNull();

    await userEvent.click(await screen.findByRole('button', { name: 'Clear filters' }));
    await vi.waitFor(() => expect(listCalls(backend).at(-1)).toEqual(firstPage));
    expect(await screen.findAllByTestId('consultation-row')).toHaveLength(1);
    // The button goes with the filters; the keyboard goes to the first filter.
    expect(screen.queryByRole('button', { name: 'Clear filters' })).toBeNull();
    expect(screen.getByLabelText('Doctor')).toHaveFocus();
  });

  it('offers "Clear filters" whenever a filter is set, even while the list shows rows', async () => {
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors,
      consultations_list: () => ({ items: [summary('a1', 'Olivia Smith')], next: null }),
    });
    render(Review, { profile: doctor });
    await screen.findAllByTestId('consultation-row');
    expect(screen.queryByRole('button', { name: 'Clear filters' })).toBeNull();
    await userEvent.click(screen.getByLabelText('Has chat'));
    await vi.waitFor(() => expect(listCalls(backend).at(-1)).toMatchObject({ has_chat: true }));
    expect(screen.getAllByTestId('consultation-row')).toHaveLength(1);
    await userEvent.click(screen.getByRole('button', { name: 'Clear filters' }));
    expect(screen.getByLabelText('Has chat')).not.toBeChecked();
    await vi.waitFor(() => expect(listCalls(backend).at(-1)).toEqual(firstPage));
    expect(screen.queryByRole('button', { name: 'Clear filters' })).toBeNull();
  });

  it('on a failure that is not about a filter, says why and offers "Try again", not "change the filters"', async () => {
    let fail = true;
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors,
      consultations_list: () => fail
        ? new Refusal({ code: 'storage', message: 'The clinic database could not be read.', field: null })
        : { items: [summary('a1', 'Olivia Smith')], next: null },
    });
    render(Review, { profile: doctor });
    expect(await screen.findByRole('alert')).toHaveTextContent('The clinic database could not be read.');
    expect(screen.queryByText(/Change the filters/)).toBeNull();
    fail = false;
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findAllByTestId('consultation-row')).toHaveLength(1);
    expect(listCalls(backend)).toEqual([firstPage, firstPage]);
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Try again' })).toBeNull();
  });

  it('on a refusal about a filter, points at the filters', async () => {
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors,
      consultations_list: (args) => (args.filter as ConsultationFilter).from
        ? new Refusal({ code: 'invalid', message: 'That date is not a date.', field: 'from' })
        : { items: [summary('a1', 'Olivia Smith')], next: null },
    });
    render(Review, { profile: doctor });
    await screen.findAllByTestId('consultation-row');
    await fireEvent.input(screen.getByLabelText('From'), { target: { value: '2026-03-10' } });
    expect(await screen.findByText('Change the filters above to see the list.')).toBeInTheDocument();
    expect(screen.getByText('That date is not a date.')).toHaveAttribute('id', 'review-from-error');
    expect(screen.queryByRole('button', { name: 'Try again' })).toBeNull();
  });

  it('says beside "Show more" why no more rows came, and keeps the rows and the button', async () => {
    let fail = true;
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors,
      consultations_list: (args) => {
        if (!(args.filter as ConsultationFilter).after) return { items: [summary('a1', 'Olivia Smith')], next: 'mark-2' };
        return fail
          ? new Refusal({ code: 'storage', message: 'The clinic database could not be read.', field: null })
          : { items: [summary('a2', 'Noah Smith')], next: null };
      },
    });
    render(Review, { profile: doctor });
    await screen.findAllByTestId('consultation-row');
    const more = screen.getByRole('button', { name: 'Show more' });
    await userEvent.click(more);
    const why = await screen.findByRole('alert');
    expect(why).toHaveTextContent('The clinic database could not be read.');
    expect(why.parentElement).toBe(more.parentElement);
    expect(screen.getAllByTestId('consultation-row')).toHaveLength(1);
    fail = false;
    await userEvent.click(more);
    await vi.waitFor(() => expect(screen.getAllByTestId('consultation-row')).toHaveLength(2));
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('opens a consultation from anywhere on its row', async () => {
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors,
      consultations_list: () => ({ items: [summary('a1', 'Olivia Smith'), summary('a2', 'Noah Smith')], next: null }),
      consultation_record: (args) => record({ appointment_id: args.id as string, patient_name: args.id === 'a2' ? 'Noah Smith' : 'Olivia Smith' }),
    });
    render(Review, { profile: doctor });
    const rows = await screen.findAllByTestId('consultation-row');
    await userEvent.click(within(rows[1]).getByText('Noah Smith'));
    expect(await screen.findByRole('heading', { level: 2, name: /^Consultation with Noah Smith — / })).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: '← Back to the list' }));
    // The date button still opens it.
    await userEvent.click(within(rows[0]).getByRole('button'));
    expect(await screen.findByRole('heading', { level: 2, name: /^Consultation with Olivia Smith — / })).toBeInTheDocument();
    expect(backend.calls.filter((c) => c.command === 'consultation_record').map((c) => c.args)).toEqual([{ id: 'a2' }, { id: 'a1' }]);
  });

  it('asks to open a row once whether its date button or another cell is clicked', async () => {
    backend = fakeBackend({ consultations_list: () => ({ items: [summary('a1', 'Olivia Smith')], next: null }) });
    const onOpen = vi.fn();
    render(ConsultationList, { doctors: doctors(), timeZone: 'America/New_York', clinical: true, onOpen });
    const [row] = await screen.findAllByTestId('consultation-row');
    await userEvent.click(within(row).getByRole('button', { name: 'Mon 2 Mar 2026 09:01' }));
    expect(onOpen.mock.calls).toEqual([['a1']]);
    await userEvent.click(within(row).getByText('12 min 5 s'));
    expect(onOpen.mock.calls).toEqual([['a1'], ['a1']]);
  });

  it('says what the list is for when there is nothing yet', async () => {
    backend = fakeBackend({ settings_get: settings, doctors_list: doctors, consultations_list: () => ({ items: [], next: null }) });
    render(Review, { profile: doctor });
    expect(await screen.findByText('No past consultations yet.')).toBeInTheDocument();
    expect(screen.getByText('A video consultation appears here once its doctor has started it.')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Clear filters' })).toBeNull();
  });

  it('reception sees the consultations but no search and nothing about notes or chat', async () => {
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors,
      consultations_list: () => ({ items: [summary('a1', 'Olivia Smith', { full: false, has_notes: null, chat_messages: null })], next: null }),
    });
    render(Review, { profile: reception });
    const [row] = await screen.findAllByTestId('consultation-row');
    expect(row).toHaveTextContent('Olivia Smith');
    expect(screen.queryByRole('searchbox', { name: 'Search notes and chat' })).toBeNull();
    expect(screen.getAllByRole('columnheader').map((h) => h.textContent)).toEqual(['Started', 'Patient', 'Doctor', 'Length']);
    expect(screen.queryByLabelText('Has notes')).toBeNull();
    expect(screen.queryByLabelText('Has chat')).toBeNull();
  });

  it("shows a doctor a dash for another doctor's notes and chat", async () => {
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors,
      consultations_list: () => ({ items: [summary('a1', 'Olivia Smith', { full: false, has_notes: null, chat_messages: null, doctor_name: 'Dr Sam Lee' })], next: null }),
    });
    render(Review, { profile: doctor });
    const [row] = await screen.findAllByTestId('consultation-row');
    const cells = within(row).getAllByRole('cell').slice(-2);
    for (const cell of cells) {
      // A dash to the eye, with why in a tooltip and for a screen reader.
      expect(cell.querySelector('[aria-hidden="true"]')).toHaveTextContent(/^—$/);
      expect(cell).toHaveAttribute('title', 'Only its doctor and administrators can see this');
      expect(within(cell).getByText('Only its doctor and administrators can see this')).toHaveClass('sr-only');
    }
  });

  it('moves between rows with the arrow keys, opens one with Enter and comes back to it with Escape', async () => {
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors,
      consultations_list: () => ({ items: [summary('a1', 'Olivia Smith'), summary('a2', 'Noah Smith')], next: null }),
      consultation_record: (args) => record({ appointment_id: args.id as string, patient_name: 'Noah Smith' }),
    });
    render(Review, { profile: doctor });
    const rows = await screen.findAllByTestId('consultation-row');
    within(rows[0]).getByRole('button').focus();
    await userEvent.keyboard('{ArrowDown}');
    const second = within(rows[1]).getByRole('button');
    expect(second).toHaveFocus();
    await userEvent.keyboard('{Enter}');
    expect(await screen.findByRole('heading', { level: 2, name: /^Consultation with Noah Smith — / })).toBeInTheDocument();
    expect(backend.calls.filter((c) => c.command === 'consultation_record').map((c) => c.args)).toEqual([{ id: 'a2' }]);
    expect(screen.getAllByTestId('consultation-row')[0].closest('[hidden]')).not.toBeNull();

    await userEvent.keyboard('{Escape}');
    await vi.waitFor(() => expect(second).toHaveFocus());
    expect(screen.queryByRole('heading', { level: 2, name: /^Consultation with/ })).toBeNull();
    expect(screen.getAllByTestId('consultation-row')[0].closest('[hidden]')).toBeNull();
  });
});

describe('the Consultations screen: searching notes and chat', () => {
  let backend: ReturnType<typeof fakeBackend>;
  const scrolled = vi.fn();
  beforeEach(() => {
    scrolled.mockReset();
    Element.prototype.scrollIntoView = function (this: Element) { scrolled(this.id); };
  });
  afterEach(() => backend?.reset());

  const hits: SearchHit[] = [
    { appointment_id: 'a1', starts_at: '2026-03-02T14:00:00Z', patient_name: 'Olivia Smith', doctor_name: 'Dr Amara Okafor', source: 'chat', message_index: 1,
      snippet: [{ text: 'Hello Olivia, how is the ', matched: false }, { text: 'rash', matched: true }, { text: '?', matched: false }] },
    { appointment_id: 'a1', starts_at: '2026-03-02T14:00:00Z', patient_name: 'Olivia Smith', doctor_name: 'Dr Amara Okafor', source: 'notes', message_index: null,
      snippet: [{ text: 'Rash', matched: true }, { text: ' better.', matched: false }] },
  ];

  it('marks the matched words and opens the record at the chat message found', async () => {
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors,
      consultations_list: () => ({ items: [summary('a1', 'Olivia Smith')], next: null }),
      consultations_search: (args) => (args.text === 'rash' ? hits : []),
      consultation_record: () => record(),
    });
    render(Review, { profile: doctor });
    await screen.findAllByTestId('consultation-row');
    await userEvent.type(screen.getByRole('searchbox', { name: 'Search notes and chat' }), 'rash');
    const found = await screen.findAllByTestId('search-hit', {}, { timeout: 2000 });
    expect(found).toHaveLength(2);
    expect(backend.calls.filter((c) => c.command === 'consultations_search').map((c) => c.args)).toEqual([{ text: 'rash' }]);
    expect([...found[0].querySelectorAll('mark')].map((m) => m.textContent)).toEqual(['rash']);
    // The booked time, said as such (the list shows when it started: 09:01).
    expect(found[0]).toHaveTextContent(/Olivia Smith · Dr Amara Okafor · booked Mon 2 Mar 2026 09:00\s*Chat\s*Hello Olivia, how is the rash\?/);
    expect(screen.getByTestId('search-count')).toHaveTextContent(/^2 results \(the filters do not apply to a search\)$/);
    expect(within(found[1]).getByText('Notes')).toBeInTheDocument();
    expect([...found[1].querySelectorAll('mark')].map((m) => m.textContent)).toEqual(['Rash']);
    expect(screen.getByTestId('consultation-row').closest('[hidden]')).not.toBeNull();

    await userEvent.click(found[0]);
    const message = await screen.findByText('Hello Olivia, how is the rash?');
    const bubble = message.closest('li')!;
    expect(bubble).toHaveAttribute('id', 'message-1');
    await vi.waitFor(() => expect(scrolled).toHaveBeenCalledWith('message-1'));
    expect(bubble).toHaveFocus();
    expect(bubble).toHaveClass('highlight');
    expect(document.getElementById('message-0')).not.toHaveClass('highlight');
  });

  it('opens a hit in the notes at the notes', async () => {
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors, consultations_list: () => ({ items: [], next: null }),
      consultations_search: () => hits, consultation_record: () => record(),
    });
    render(Review, { profile: doctor });
    await userEvent.type(await screen.findByRole('searchbox', { name: 'Search notes and chat' }), 'rash');
    const found = await screen.findAllByTestId('search-hit', {}, { timeout: 2000 });
    found[1].focus();
    await userEvent.keyboard('{Enter}');
    await vi.waitFor(() => expect(scrolled).toHaveBeenCalledWith('record-notes'));
    expect(document.getElementById('record-notes')).toHaveFocus();
  });

  it('says when nothing matches, and Escape clears the search back to the list', async () => {
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors,
      consultations_list: () => ({ items: [summary('a1', 'Olivia Smith')], next: null }),
      consultations_search: () => [],
    });
    render(Review, { profile: doctor });
    await screen.findAllByTestId('consultation-row');
    const box = screen.getByRole('searchbox', { name: 'Search notes and chat' });
    await userEvent.type(box, 'measles');
    expect(await screen.findByText("No consultation's notes or chat contain that.", {}, { timeout: 2000 })).toBeInTheDocument();
    await userEvent.keyboard('{Escape}');
    expect(box).toHaveValue('');
    expect(screen.queryByText("No consultation's notes or chat contain that.")).toBeNull();
    expect(screen.getByTestId('consultation-row').closest('[hidden]')).toBeNull();
  });

  it('goes from the search box to the first result with the down arrow, and back up', async () => {
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors, consultations_list: () => ({ items: [], next: null }),
      consultations_search: () => hits,
    });
    render(Review, { profile: doctor });
    const box = await screen.findByRole('searchbox', { name: 'Search notes and chat' });
    await userEvent.type(box, 'rash');
    const found = await screen.findAllByTestId('search-hit', {}, { timeout: 2000 });
    expect(box).toHaveFocus();
    await userEvent.keyboard('{ArrowDown}');
    expect(found[0]).toHaveFocus();
    await userEvent.keyboard('{ArrowDown}');
    expect(found[1]).toHaveFocus();
    await userEvent.keyboard('{ArrowUp}{ArrowUp}');
    expect(box).toHaveFocus();
  });

  it('says "Searching…" while a new search runs, keeping the results shown until it answers', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors, consultations_list: () => ({ items: [], next: null }),
      consultations_search: (args) => (args.text === 'rash' ? hits : gate.then(() => [hits[1]])),
    });
    render(Review, { profile: doctor });
    const box = await screen.findByRole('searchbox', { name: 'Search notes and chat' });
    await userEvent.type(box, 'rash');
    await screen.findAllByTestId('search-hit', {}, { timeout: 2000 });
    expect(screen.queryByText('Searching…')).toBeNull();
    await userEvent.type(box, ' better');
    expect(await screen.findByText('Searching…')).toBeInTheDocument();
    expect(screen.getAllByTestId('search-hit')).toHaveLength(2);
    await vi.waitFor(() => expect(backend.calls.filter((c) => c.command === 'consultations_search').map((c) => c.args.text)).toEqual(['rash', 'rash better']));
    release();
    await vi.waitFor(() => expect(screen.getAllByTestId('search-hit')).toHaveLength(1));
    expect(screen.queryByText('Searching…')).toBeNull();
    expect(screen.getByTestId('search-count')).toHaveTextContent(/^1 result \(the filters do not apply to a search\)$/);
  });

  it('says when there may be more than the most recent hits the search answers', async () => {
    const many = Array.from({ length: 50 }, (_, i): SearchHit => ({ ...hits[0], appointment_id: `a${i}` }));
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors, consultations_list: () => ({ items: [], next: null }),
      consultations_search: () => many,
    });
    render(Review, { profile: doctor });
    await userEvent.type(await screen.findByRole('searchbox', { name: 'Search notes and chat' }), 'rash');
    expect(await screen.findAllByTestId('search-hit', {}, { timeout: 2000 })).toHaveLength(50);
    expect(screen.getByTestId('search-count')).toHaveTextContent(
      /^The 50 most recent results: more may match, add words to narrow the search \(the filters do not apply to a search\)$/,
    );
  });

  it("waits for a pause in typing: one search for what was typed, not one per letter", async () => {
    backend = fakeBackend({
      settings_get: settings, doctors_list: doctors, consultations_list: () => ({ items: [], next: null }),
      consultations_search: () => [],
    });
    render(Review, { profile: doctor });
    await userEvent.type(await screen.findByRole('searchbox', { name: 'Search notes and chat' }), 'cream');
    await screen.findByText("No consultation's notes or chat contain that.", {}, { timeout: 2000 });
    expect(backend.calls.filter((c) => c.command === 'consultations_search').map((c) => c.args.text)).toEqual(['cream']);
  });
});
