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

  it('keeps consultation chats for the days typed (empty keeps them), with the refusal beside the field', async () => {
    backend = fakeBackend({
      video_settings_get: () => ({ call_page_url: 'https://clinic.example/call.html', published_at: null, chat_retention_days: 90 }),
      consultation_retention_update: (args) => {
        const days = (args.days as string).trim();
        if (days !== '' && !/^[0-9]+$/.test(days)) {
          return new Refusal({ code: 'invalid', message: 'Enter how many days to keep consultation chats (1 to 36500), or leave it empty to keep them.', field: 'chat_retention_days' });
        }
        return { call_page_url: 'https://clinic.example/call.html', published_at: null, chat_retention_days: days === '' ? null : Number(days) };
      },
    });
    render(VideoSettings);
    const field = await screen.findByLabelText('Keep consultation chats for');
    await vi.waitFor(() => expect(field).toHaveValue('90'));
    expect(screen.getByText("Leave empty to keep chats. Older chats are removed from this computer's database and the search; notes stay.")).toBeInTheDocument();
    const save = screen.getByRole('button', { name: 'Save chat retention' });

    await userEvent.clear(field);
    await userEvent.type(field, 'a month');
    await userEvent.click(save);
    const error = await screen.findByText(/Enter how many days to keep consultation chats/);
    expect(error).toHaveAttribute('id', 'chat-retention-error');
    expect(field).toHaveAttribute('aria-invalid', 'true');
    expect(field.getAttribute('aria-describedby')).toContain('chat-retention-error');
    expect(screen.getByLabelText('Call page address')).toHaveAttribute('aria-invalid', 'false');

    await userEvent.clear(field);
    await userEvent.type(field, '30');
    await userEvent.click(save);
    expect(await screen.findByRole('status')).toHaveTextContent('consultation chats are removed 30 days after the consultation ends');
    expect(field).toHaveAttribute('aria-invalid', 'false');
    expect(screen.queryByText(/Enter how many days/)).toBeNull();

    await userEvent.clear(field);
    await userEvent.click(save);
    expect(await screen.findByText('Saved: consultation chats are kept.')).toBeInTheDocument();
    expect(backend.calls.filter((c) => c.command === 'consultation_retention_update').map((c) => c.args)).toEqual([
      { days: 'a month' }, { days: '30' }, { days: '' },
    ]);
    expect(backend.calls.some((c) => c.command === 'video_settings_update')).toBe(false);
  });
});
