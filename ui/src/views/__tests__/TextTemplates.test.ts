import { afterEach, describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import type { Template } from '$lib/platform/bindings/Template';
import type { TemplatePreview } from '$lib/platform/bindings/TemplatePreview';
import TextTemplates from '../TextTemplates.svelte';

const placeholders = [
  { placeholder: 'first_name', token: '{first_name}', description: "The patient's first name." },
  { placeholder: 'clinic_name', token: '{clinic_name}', description: "The clinic's name, from Settings." },
] as Template['placeholders'];

const confirmation: Template = {
  name: 'confirmation', label: 'Booking confirmation', purpose: 'Sent when an appointment is booked.', is_quick_text: false, is_chat_reply: false,
  body: 'Hi {first_name}, you are booked.', is_default: true, default_body: 'Hi {first_name}, you are booked.', placeholders,
};
const pleaseCall: Template = {
  name: 'quick.please_call', label: 'Quick text: please call us', purpose: 'Offered to reception.', is_quick_text: true, is_chat_reply: false,
  body: 'Hi {first_name}, please call {clinic_name}.', is_default: false, default_body: 'Hi {first_name}, please call us.', placeholders,
};
const cameraOff: Template = {
  name: 'chat.camera_off', label: 'Chat reply: camera is off', purpose: "Offered in a consultation's chat.", is_quick_text: false,
  is_chat_reply: true, body: 'Your camera seems to be off, {first_name}.', is_default: false,
  default_body: 'Your camera seems to be off.', placeholders,
};

const CURLY = /[’–…]/g;
const GSM: Record<string, string> = { '’': "'", '–': '-', '…': '...' };

/** A core that previews like the real one for the cases these tests use. */
function preview(args: Record<string, unknown>): TemplatePreview | Refusal {
  const body = (args.body as string | null) ?? confirmation.body;
  if (body.includes('{frist_name}')) {
    return new Refusal({ code: 'invalid', message: '{frist_name} is not a placeholder ClinicDesk knows. Did you mean {first_name}?', field: 'body' });
  }
  const text = body.replaceAll('{first_name}', 'Alexandra').replaceAll('{clinic_name}', 'Riverside Clinic');
  const curly = [...new Set(body.match(CURLY) ?? [])];
  return {
    name: args.name as TemplatePreview['name'], body, text, characters: text.length,
    segments: curly.length ? 2 : 1, encoding: curly.length ? 'ucs2' : 'gsm7',
    ucs2_characters: curly.map((c) => ({ character: c, code: `U+${c.codePointAt(0)!.toString(16).toUpperCase()}` })),
    look_alikes: curly.map((c) => ({ found: c, replacement: GSM[c], count: 1 })),
    gsm_body: curly.length ? body.replace(CURLY, (c) => GSM[c]) : null,
    cost: '0.04', notes: [],
  };
}

function core(extra: Record<string, (args: Record<string, unknown>) => unknown> = {}) {
  return fakeBackend({ templates_list: () => [confirmation, pleaseCall, cameraOff], template_preview: preview, ...extra });
}

const wording = () => screen.getByLabelText('Wording') as HTMLTextAreaElement;
const previewText = () => screen.getByTestId('template-preview-text');

describe('Text templates', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('shows the first template with its exact text, segments, encoding and cost', async () => {
    backend = core();
    render(TextTemplates);
    expect(await screen.findByText('Hi Alexandra, you are booked.')).toBeInTheDocument();
    expect(wording()).toHaveValue('Hi {first_name}, you are booked.');
    expect(screen.getByText('1 segment')).toBeInTheDocument();
    expect(screen.getByText('GSM-7')).toBeInTheDocument();
    expect(screen.getByText('Costs 0.04 per text')).toBeInTheDocument();
    // Appointment texts and quick texts are listed apart; a changed one says so.
    const list = screen.getByRole('navigation', { name: 'Templates' });
    expect(within(list).getByText('Quick texts for reception')).toBeInTheDocument();
    expect(within(list).getByRole('button', { name: /please call us.*Changed/ })).toBeInTheDocument();
  });

  it('lists the chat replies apart and previews them as chat messages, without segments or cost', async () => {
    backend = core();
    render(TextTemplates);
    const list = await screen.findByRole('navigation', { name: 'Templates' });
    expect(within(list).getByText('Chat replies in video consultations')).toBeInTheDocument();
    await userEvent.click(within(list).getByRole('button', { name: /camera is off/ }));
    await waitFor(() => expect(previewText()).toHaveTextContent('Your camera seems to be off, Alexandra.'));
    expect(screen.getByText(/not as a text: no cost/)).toBeInTheDocument();
    expect(screen.queryByText(/segment/)).not.toBeInTheDocument();
    expect(screen.queryByText(/Costs .* per text/)).not.toBeInTheDocument();
  });

  it('previews the draft as it is typed and shows a refusal beside the field', async () => {
    backend = core();
    render(TextTemplates);
    await screen.findByText('Hi Alexandra, you are booked.');
    await userEvent.clear(wording());
    await userEvent.type(wording(), 'Hi {{frist_name}');
    const error = await screen.findByText(/is not a placeholder ClinicDesk knows/);
    expect(error.id).toBe('template-body-error');
    expect(wording()).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByText('Fix the wording to see the preview.')).toBeInTheDocument();
    // Typing is debounced: far fewer previews than keystrokes, the last one with the whole draft.
    const previews = backend.calls.filter((c) => c.command === 'template_preview');
    expect(previews.length).toBeLessThan(6);
    expect(previews.at(-1)!.args).toEqual({ name: 'confirmation', body: 'Hi {frist_name}' });
    expect(screen.getByRole('button', { name: 'Save template' })).toBeEnabled();
  });

  it('marks what forces UCS-2 and swaps look-alikes for GSM-7 characters on request', async () => {
    backend = core();
    render(TextTemplates);
    await screen.findByText('Hi Alexandra, you are booked.');
    await userEvent.clear(wording());
    await userEvent.type(wording(), 'We’re late – sorry…');
    await screen.findByText(/Sent as UCS-2/);
    expect(within(previewText()).getByText('’')).toBeInTheDocument();
    expect(previewText().querySelectorAll('mark')).toHaveLength(3);
    expect(screen.getByText('2 segments')).toBeInTheDocument();

    await userEvent.click(screen.getByRole('button', { name: 'Replace with GSM-7 characters' }));
    expect(wording()).toHaveValue("We're late - sorry...");
    await waitFor(() => expect(screen.getByText('GSM-7')).toBeInTheDocument());
    expect(screen.queryByText(/Sent as UCS-2/)).not.toBeInTheDocument();
  });

  it('inserts a placeholder at the cursor', async () => {
    backend = core();
    render(TextTemplates);
    await screen.findByText('Hi Alexandra, you are booked.');
    wording().setSelectionRange(3, 3);
    await userEvent.click(screen.getByRole('button', { name: /Insert \{clinic_name\}/ }));
    expect(wording()).toHaveValue('Hi {clinic_name}{first_name}, you are booked.');
    expect(wording()).toHaveFocus();
    expect(wording().selectionStart).toBe(3 + '{clinic_name}'.length);
  });

  it('saves the draft, keeps drafts of other templates, and resets to the default', async () => {
    backend = core({
      template_save: (args) => ({ ...confirmation, body: (args.body as string).trim(), is_default: false }),
      template_reset: () => ({ ...pleaseCall, body: pleaseCall.default_body, is_default: true }),
    });
    render(TextTemplates);
    await screen.findByText('Hi Alexandra, you are booked.');
    await userEvent.type(wording(), ' See you soon. ');
    await userEvent.click(screen.getByRole('button', { name: /please call us/ }));
    await userEvent.click(screen.getByRole('button', { name: /Booking confirmation.*Unsaved/ }));
    expect(wording()).toHaveValue('Hi {first_name}, you are booked. See you soon. ');

    await userEvent.click(wording());
    await userEvent.keyboard('{Control>}s{/Control}');
    expect(await screen.findByText(/Template saved/)).toBeInTheDocument();
    expect(backend.calls.find((c) => c.command === 'template_save')!.args).toEqual({ name: 'confirmation', body: 'Hi {first_name}, you are booked. See you soon. ' });
    expect(wording()).toHaveValue('Hi {first_name}, you are booked. See you soon.');
    expect(screen.getByRole('button', { name: /Booking confirmation.*Changed/ })).toBeInTheDocument();

    await userEvent.click(screen.getByRole('button', { name: /please call us/ }));
    await userEvent.click(screen.getByRole('button', { name: 'Reset to default' }));
    expect(await screen.findByText('Back to the built-in wording.')).toBeInTheDocument();
    expect(wording()).toHaveValue('Hi {first_name}, please call us.');
    expect(backend.calls.find((c) => c.command === 'template_reset')!.args).toEqual({ name: 'quick.please_call' });
  });

  it('says so when the templates cannot be loaded', async () => {
    backend = fakeBackend({ templates_list: () => new Refusal({ code: 'forbidden', message: 'You are not allowed to change clinic settings.', field: null }) });
    render(TextTemplates);
    expect(await screen.findByText('You are not allowed to change clinic settings.')).toBeInTheDocument();
    expect(screen.queryByLabelText('Wording')).not.toBeInTheDocument();
  });
});
