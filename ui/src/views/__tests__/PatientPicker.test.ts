import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend } from '$lib/platform/testing';
import type { Patient } from '$lib/platform/bindings/Patient';
import PatientPicker from '../PatientPicker.svelte';

const patient = (id: string, full_name: string): Patient => ({
  id, full_name, phone: '+447400123456', date_of_birth: null, sms_consent: true, opted_out_at: null, created_at: '2026-01-01T00:00:00Z',
});
const smiths = [patient('p1', 'Olivia Smith'), patient('p2', 'Noah Smith')];
const hint = 'More patients match — keep typing to narrow the list.';

describe('patient picker', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('says when more patients match than are listed', async () => {
    backend = fakeBackend({ patients_search: () => ({ patients: smiths, more: true }) });
    render(PatientPicker, { id: 'picker', onNew: vi.fn() });
    await userEvent.type(screen.getByPlaceholderText('Type a name or phone number'), 'smi');
    expect(await screen.findAllByRole('option', {}, { timeout: 2000 })).toHaveLength(2);
    expect(screen.getByText(hint)).toBeInTheDocument();
  });

  it('says nothing more when the list is complete', async () => {
    backend = fakeBackend({ patients_search: () => ({ patients: smiths, more: false }) });
    render(PatientPicker, { id: 'picker', onNew: vi.fn() });
    await userEvent.type(screen.getByPlaceholderText('Type a name or phone number'), 'smith');
    expect(await screen.findAllByRole('option', {}, { timeout: 2000 })).toHaveLength(2);
    expect(screen.queryByText(hint)).not.toBeInTheDocument();
  });
});
