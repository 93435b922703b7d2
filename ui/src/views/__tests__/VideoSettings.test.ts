import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import VideoSettings from '../VideoSettings.svelte';

describe('video settings: the call page address', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it("saves the address and shows the core's refusal beside the field", async () => {
    backend = fakeBackend({
      video_settings_get: () => ({ call_page_url: '', published_at: null, chat_retention_days: null }),
      video_settings_update: (args) => {
        const url = args.callPageUrl as string;
        if (url.startsWith('http://')) {
          return new Refusal({ code: 'invalid', message: 'The call page must be on https://: browsers only give a secure page the camera.', field: 'call_page_url' });
        }
        return { call_page_url: url, published_at: null, chat_retention_days: null };
      },
    });
    render(VideoSettings);
    const field = await screen.findByLabelText('Call page address');
    await userEvent.type(field, 'http://clinic.example/call.html');
    await userEvent.click(screen.getByRole('button', { name: 'Save video settings' }));
    expect(await screen.findByText(/must be on https/)).toBeInTheDocument();
    expect(field).toHaveAttribute('aria-invalid', 'true');
    await userEvent.clear(field);
    await userEvent.type(field, 'https://clinic.example/call.html');
    await userEvent.click(screen.getByRole('button', { name: 'Save video settings' }));
    expect(await screen.findByRole('status')).toHaveTextContent("patients' links now open this page");
    expect(backend.calls.filter((c) => c.command === 'video_settings_update').at(-1)!.args).toEqual({ callPageUrl: 'https://clinic.example/call.html' });
  });

  it('becomes read-only for someone who may not change it', async () => {
    backend = fakeBackend({
      video_settings_get: () => ({ call_page_url: 'https://clinic.example/call.html', published_at: null, chat_retention_days: null }),
      video_settings_update: () => new Refusal({ code: 'forbidden', message: 'You are not allowed to change settings.', field: null }),
    });
    render(VideoSettings);
    await userEvent.click(await screen.findByRole('button', { name: 'Save video settings' }));
    expect(await screen.findByText('Only an administrator can change it.', { exact: false })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Save video settings' })).toBeNull();
  });

  it('publishes the call page showing each step, then links point at it', async () => {
    const published = 'https://clinicdesk-call-page-1234-patients.twil.io/call.html';
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    backend = fakeBackend({
      video_settings_get: () => ({ call_page_url: '', published_at: null, chat_retention_days: null }),
      call_page_publish: (args) => {
        const channel = args.onProgress as { onmessage: (step: unknown) => void };
        channel.onmessage({ step: 'preparing', files: 12 });
        channel.onmessage({ step: 'uploading', done: 3, total: 12 });
        return gate.then(() => {
          channel.onmessage({ step: 'building', seconds: 4 });
          return { url: published, files: 12, bytes: 500_000 };
        });
      },
    });
    render(VideoSettings);
    await userEvent.click(await screen.findByRole('button', { name: 'Publish the call page' }));
    expect(await screen.findByText('Uploading the page to Twilio: 3 of 12 files')).toBeInTheDocument();
    expect(screen.getByRole('progressbar', { name: 'Publishing progress' })).toHaveAttribute('value', '23');
    expect(screen.getByRole('button', { name: 'Publishing…' })).toBeDisabled();
    release();
    expect(await screen.findByText(`Published. Patients' links now open ${published}`)).toBeInTheDocument();
    expect(screen.getByLabelText('Call page address')).toHaveValue(published);
    expect(screen.getByTestId('published-at')).toHaveTextContent('Last published');
  });

  it("says why publishing failed, beside the button, and keeps the address", async () => {
    backend = fakeBackend({
      video_settings_get: () => ({ call_page_url: 'https://old.example/call.html', published_at: '2026-12-01T09:00:00Z', chat_retention_days: null }),
      call_page_publish: () =>
        new Refusal({ code: 'unavailable', message: 'Twilio could not build the page, so the call page was not published.', field: null }),
    });
    render(VideoSettings);
    expect(await screen.findByTestId('published-at')).toHaveTextContent('Last published');
    await userEvent.click(screen.getByRole('button', { name: 'Publish the call page' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Twilio could not build the page');
    expect(screen.getByLabelText('Call page address')).toHaveValue('https://old.example/call.html');
    expect(screen.getByRole('button', { name: 'Publish the call page' })).toBeEnabled();
  });

  const retentionBackend = (days: number | null) => fakeBackend({
    video_settings_get: () => ({ call_page_url: 'https://clinic.example/call.html', published_at: null, chat_retention_days: days }),
    consultation_retention_update: (args) => {
      const typed = (args.days as string).trim();
      if (typed !== '' && !/^[0-9]+$/.test(typed)) {
        return new Refusal({ code: 'invalid', message: 'Enter how many days to keep consultation chats (1 to 36500), or leave it empty to keep them.', field: 'chat_retention_days' });
      }
      return { call_page_url: 'https://clinic.example/call.html', published_at: null, chat_retention_days: typed === '' ? null : Number(typed) };
    },
  });
  const retentionCalls = (backend: ReturnType<typeof fakeBackend>) =>
    backend.calls.filter((c) => c.command === 'consultation_retention_update').map((c) => c.args.days);

  it('chooses between keeping chats and removing them after some days, with the refusal beside the field', async () => {
    backend = retentionBackend(90);
    render(VideoSettings);
    const field = await screen.findByLabelText('Remove chats older than (days)');
    await vi.waitFor(() => expect(field).toHaveValue('90'));
    const keep = screen.getByRole('radio', { name: 'Keep chats' });
    const remove = screen.getByRole('radio', { name: 'Remove chats older than' });
    expect(remove).toBeChecked();
    expect(keep).not.toBeChecked();
    expect(field).not.toHaveAttribute('placeholder');
    expect(screen.getByText(/Removed chats are gone from this computer's database and the search; notes stay\./)).toHaveAttribute('id', 'chat-retention-hint');
    const save = screen.getByRole('button', { name: 'Save chat retention' });

    // Not a number: the core says why, beside the field (nothing to confirm).
    await userEvent.clear(field);
    await userEvent.type(field, 'a month');
    await userEvent.click(save);
    const error = await screen.findByText(/Enter how many days to keep consultation chats/);
    expect(error).toHaveAttribute('id', 'chat-retention-error');
    expect(field).toHaveAttribute('aria-invalid', 'true');
    expect(field.getAttribute('aria-describedby')).toContain('chat-retention-error');
    expect(screen.getByLabelText('Call page address')).toHaveAttribute('aria-invalid', 'false');

    // Keeping chats longer than now removes nothing more: saved at once.
    await userEvent.clear(field);
    await userEvent.type(field, '120');
    await userEvent.click(save);
    expect(await screen.findByRole('status')).toHaveTextContent('consultation chats are removed 120 days after the consultation ends');
    expect(field).toHaveAttribute('aria-invalid', 'false');
    expect(screen.queryByText(/Enter how many days/)).toBeNull();
    expect(screen.queryByText(/removed permanently/)).toBeNull();

    // Keeping them: no number needed.
    await userEvent.click(keep);
    await userEvent.click(save);
    expect(await screen.findByText('Saved: consultation chats are kept.')).toBeInTheDocument();
    expect(keep).toBeChecked();
    expect(field).toHaveValue('');

    // "Remove" with no number is asked for here, not sent.
    await userEvent.click(remove);
    await userEvent.click(save);
    expect(await screen.findByText('Enter after how many days chats are removed, or choose "Keep chats".')).toHaveAttribute('id', 'chat-retention-error');
    expect(retentionCalls(backend)).toEqual(['a month', '120', '']);
    expect(backend.calls.some((c) => c.command === 'video_settings_update')).toBe(false);
  });

  it('asks before a number that removes chats, which are gone for good', async () => {
    backend = retentionBackend(null);
    render(VideoSettings);
    const keep = await screen.findByRole('radio', { name: 'Keep chats' });
    await vi.waitFor(() => expect(keep).toBeChecked());
    const field = screen.getByLabelText('Remove chats older than (days)');
    // Typing a number chooses "Remove".
    await userEvent.type(field, '30');
    expect(screen.getByRole('radio', { name: 'Remove chats older than' })).toBeChecked();
    await userEvent.click(screen.getByRole('button', { name: 'Save chat retention' }));
    const warning = await screen.findByText(/will be removed permanently/);
    expect(warning).toHaveTextContent('Chats of consultations that ended more than 30 days ago will be removed permanently, now and from then on. They cannot be brought back. Notes stay.');
    expect(retentionCalls(backend)).toEqual([]);
    // The safe choice has the keyboard; the choices are held still while asking.
    const cancel = screen.getByRole('button', { name: 'Cancel' });
    expect(cancel).toHaveFocus();
    expect(field).toBeDisabled();
    expect(screen.queryByRole('button', { name: 'Save chat retention' })).toBeNull();

    await userEvent.click(cancel);
    expect(screen.queryByText(/will be removed permanently/)).toBeNull();
    expect(field).toHaveFocus();
    expect(retentionCalls(backend)).toEqual([]);

    await userEvent.click(screen.getByRole('button', { name: 'Save chat retention' }));
    await userEvent.click(await screen.findByRole('button', { name: 'Remove older chats' }));
    expect(await screen.findByRole('status')).toHaveTextContent('Saved: consultation chats are removed 30 days after the consultation ends.');
    expect(retentionCalls(backend)).toEqual(['30']);

    // A shorter period removes more: asked again. A longer one is not.
    await userEvent.clear(field);
    await userEvent.type(field, '7');
    await userEvent.click(screen.getByRole('button', { name: 'Save chat retention' }));
    expect(await screen.findByText(/more than 7 days ago will be removed permanently/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Remove older chats' }));
    await vi.waitFor(() => expect(retentionCalls(backend)).toEqual(['30', '7']));
  });

  it('tells someone who is not an administrator that only one can change the chat rule', async () => {
    backend = retentionBackend(90);
    render(VideoSettings, { admin: false });
    expect(await screen.findByText('Only an administrator can change this.')).toBeInTheDocument();
    await vi.waitFor(() => expect(screen.getByLabelText('Remove chats older than (days)')).toHaveValue('90'));
    expect(screen.getByRole('radio', { name: 'Keep chats' })).toBeDisabled();
    expect(screen.getByRole('radio', { name: 'Remove chats older than' })).toBeDisabled();
    expect(screen.queryByRole('button', { name: 'Save chat retention' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Save video settings' })).toBeNull();
  });

  it('becomes read-only when the core refuses a change of the chat rule', async () => {
    backend = fakeBackend({
      video_settings_get: () => ({ call_page_url: '', published_at: null, chat_retention_days: 90 }),
      consultation_retention_update: () => new Refusal({ code: 'forbidden', message: 'You are not allowed to change settings.', field: null }),
    });
    render(VideoSettings);
    await vi.waitFor(() => expect(screen.getByLabelText('Remove chats older than (days)')).toHaveValue('90'));
    await userEvent.click(screen.getByRole('radio', { name: 'Keep chats' }));
    await userEvent.click(screen.getByRole('button', { name: 'Save chat retention' }));
    expect(await screen.findByText('Only an administrator can change this.')).toBeInTheDocument();
    expect(screen.getByRole('alert')).toHaveTextContent('You are not allowed to change settings.');
    expect(screen.queryByRole('button', { name: 'Save chat retention' })).toBeNull();
  });
});
