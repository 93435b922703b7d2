import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import type { Patient } from '$lib/platform/bindings/Patient';
import PatientForm from '../PatientForm.svelte';

const landline = 'This looks like a landline: texts to it will not arrive.';
const olivia: Patient = {
  id: 'p1', full_name: 'Olivia Smith', phone: '+442079460000', date_of_birth: null, sms_consent: true, opted_out_at: null, created_at: '2026-01-01T00:00:00Z',
  sms_consent_at: '2026-03-02T23:30:00Z', sms_consent_by: 'Ana Reception', phone_problem: landline,
};
const recorderId = '0b6a4b8e-3f0c-4c9a-9a51-3f7c2d1e8a10';
const consent = 'The patient agrees to receive text messages about appointments';

describe('patient form: texts', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('shows who recorded the answer about texts, and when, on the clinic calendar', () => {
    backend = fakeBackend({});
    render(PatientForm, { patient: olivia, timeZone: 'Pacific/Auckland', onSaved: vi.fn() });
    expect(screen.getByLabelText(consent)).toBeChecked();
    expect(screen.getByLabelText(consent)).toHaveAccessibleDescription('Recorded 3 Mar 2026 by Ana Reception');
  });

  it("loads the patient's record to name who recorded the answer when a search list gave only their id", async () => {
    backend = fakeBackend({ patient_get: () => olivia });
    render(PatientForm, { patient: { ...olivia, sms_consent_by: recorderId, phone_problem: undefined }, timeZone: 'Europe/London', onSaved: vi.fn() });
    expect(await screen.findByText('Recorded 2 Mar 2026 by Ana Reception')).toBeInTheDocument();
    expect(backend.calls.filter((c) => c.command === 'patient_get').map((c) => c.args)).toEqual([{ id: 'p1' }]);
    // The record also brings what the list left out: the number's problem.
    expect(screen.getByLabelText('Mobile number')).toHaveAccessibleDescription(landline);
  });

  it("names no one when only the recorder's id is known (the record could not be loaded)", async () => {
    backend = fakeBackend({ patient_get: () => new Refusal({ code: 'forbidden', message: 'You may not do that.', field: null }) });
    render(PatientForm, { patient: { ...olivia, sms_consent_by: recorderId }, timeZone: 'Europe/London', onSaved: vi.fn() });
    await vi.waitFor(() => expect(backend.calls.some((c) => c.command === 'patient_get')).toBe(true));
    expect(screen.getByText('Recorded 2 Mar 2026')).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('warns about a number texts cannot reach, until another number is typed', async () => {
    backend = fakeBackend({});
    render(PatientForm, { patient: olivia, onSaved: vi.fn() });
    const phone = screen.getByLabelText('Mobile number');
    expect(phone).toHaveAccessibleDescription(landline);
    await userEvent.clear(phone);
    await userEvent.type(phone, '07400 123456');
    expect(screen.queryByText(landline)).not.toBeInTheDocument();
  });

  it('a new patient has no provenance and no warning, and no record is asked for', () => {
    backend = fakeBackend({});
    render(PatientForm, { onSaved: vi.fn() });
    expect(backend.calls).toEqual([]);
    expect(screen.getByLabelText(consent)).not.toHaveAttribute('aria-describedby');
    expect(screen.queryByText(/Recorded/)).not.toBeInTheDocument();
  });
});
