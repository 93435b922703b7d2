import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend } from '$lib/platform/testing';
import type { Patient } from '$lib/platform/bindings/Patient';
import PatientForm from '../PatientForm.svelte';

const landline = 'This looks like a landline: texts to it will not arrive.';
const olivia: Patient = {
  id: 'p1', full_name: 'Olivia Smith', phone: '+442079460000', date_of_birth: null, sms_consent: true, opted_out_at: null, created_at: '2026-01-01T00:00:00Z',
  sms_consent_at: '2026-03-02T23:30:00Z', sms_consent_by: 'Ana Reception', phone_problem: landline,
};
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

  it("names no one when only the recorder's id is known (search lists)", () => {
    backend = fakeBackend({});
    render(PatientForm, { patient: { ...olivia, sms_consent_by: '0b6a4b8e-3f0c-4c9a-9a51-3f7c2d1e8a10' }, timeZone: 'Europe/London', onSaved: vi.fn() });
    expect(screen.getByText('Recorded 2 Mar 2026')).toBeInTheDocument();
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

  it('a new patient has no provenance and no warning', () => {
    backend = fakeBackend({});
    render(PatientForm, { onSaved: vi.fn() });
    expect(screen.getByLabelText(consent)).not.toHaveAttribute('aria-describedby');
    expect(screen.queryByText(/Recorded/)).not.toBeInTheDocument();
  });
});
