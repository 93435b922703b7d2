import { afterEach, describe, expect, it } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend } from '$lib/platform/testing';
import type { Patient } from '$lib/platform/bindings/Patient';
import type { StaffProfile } from '$lib/platform/bindings/StaffProfile';
import Patients from '../Patients.svelte';

const profile: StaffProfile = { user_id: 'u1', email: 'rita@clinic.example', full_name: 'Rita Desk', role: 'reception', idle_timeout_minutes: 15 };
const patient = (id: string, full_name: string): Patient => ({
  id, full_name, phone: '+447400123456', date_of_birth: null, sms_consent: true, opted_out_at: null, created_at: '2026-01-01T00:00:00Z',
});
const hint = 'More patients match — keep typing to narrow the list.';

describe('patient directory', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('asks for more of the name while more patients match than are listed', async () => {
    backend = fakeBackend({
      patients_search: (args) =>
        args.text === 'olivia smith'
          ? { patients: [patient('p1', 'Olivia Smith')], more: false }
          : { patients: [patient('p1', 'Olivia Smith'), patient('p2', 'Noah Smith')], more: true },
    });
    render(Patients, { profile });
    expect(await screen.findByText('Noah Smith')).toBeInTheDocument();
    expect(screen.getByText(hint)).toBeInTheDocument();

    await userEvent.type(screen.getByLabelText('Search patients'), 'olivia smith');
    await expect.poll(() => screen.queryByText('Noah Smith'), { timeout: 2000 }).toBeNull();
    expect(screen.getByText('Olivia Smith')).toBeInTheDocument();
    expect(screen.queryByText(hint)).not.toBeInTheDocument();
  });

  it("edits a patient with their own record: the answer about texts names who recorded it", async () => {
    const listed = { ...patient('p1', 'Olivia Smith'), sms_consent_at: '2026-03-03T10:00:00Z', sms_consent_by: '0b6a4b8e-3f0c-4c9a-9a51-3f7c2d1e8a10' };
    backend = fakeBackend({
      patients_search: () => ({ patients: [listed], more: false }),
      patient_get: (args) => ({ ...listed, id: args.id as string, sms_consent_by: 'Ana Reception' }),
    });
    render(Patients, { profile });
    await screen.findByText('Olivia Smith');
    await userEvent.click(screen.getByRole('button', { name: 'Edit' }));
    const dialog = await screen.findByRole('dialog', { name: 'Edit patient' });
    expect(await within(dialog).findByText('Recorded 3 Mar 2026 by Ana Reception')).toBeInTheDocument();
    expect(backend.calls.filter((c) => c.command === 'patient_get').map((c) => c.args)).toEqual([{ id: 'p1' }]);
  });
});
