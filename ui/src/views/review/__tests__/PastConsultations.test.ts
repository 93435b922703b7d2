import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend } from '$lib/platform/testing';
import PastConsultations from '../PastConsultations.svelte';
import { settings, summary } from './fixtures';

describe("a patient's past consultations", () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('says in words which consultations are still fetching what happened, and why', async () => {
    backend = fakeBackend({
      settings_get: settings,
      consultations_list: () => ({ items: [summary('a1', 'Olivia Smith', { record_pending: true }), summary('a2', 'Olivia Smith')], next: null }),
    });
    const onOpen = vi.fn();
    render(PastConsultations, { patientId: 'p1', onOpen });
    const items = await screen.findAllByRole('listitem');
    expect(items).toHaveLength(2);
    const pill = screen.getByText('Fetching when online');
    expect(items[0]).toContainElement(pill);
    expect(pill).toHaveClass('pill', 'warn');
    expect(pill).toHaveAttribute('title',
      'This consultation ended while Twilio could not be reached. Who was in the room and the chat are fetched by themselves when the network returns.');
    expect(screen.getByText(/^Fetching when online: these consultations ended while Twilio could not be reached\./)).toBeInTheDocument();
    expect(screen.queryByText('Pending')).toBeNull();
    await userEvent.click(screen.getAllByRole('button', { name: 'Mon 2 Mar 2026 09:01' })[0]);
    expect(onOpen).toHaveBeenCalledWith('a1');
  });

  it('explains nothing when nothing is waiting', async () => {
    backend = fakeBackend({ settings_get: settings, consultations_list: () => ({ items: [summary('a1', 'Olivia Smith')], next: null }) });
    render(PastConsultations, { patientId: 'p1' });
    await screen.findByText('Mon 2 Mar 2026 09:01');
    expect(screen.queryByText(/Fetching when online/)).toBeNull();
  });
});
