import { afterEach, describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { fakeBackend, Refusal } from '$lib/platform/testing';
import VideoSettings from '../VideoSettings.svelte';

describe('video settings: the call page address', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it("saves the address and shows the core's refusal beside the field", async () => {
    backend = fakeBackend({
      video_settings_get: () => ({ call_page_url: '' }),
      video_settings_update: (args) => {
        const url = args.callPageUrl as string;
        if (url.startsWith('http://')) {
          return new Refusal({ code: 'invalid', message: 'The call page must be on https://: browsers only give a secure page the camera.', field: 'call_page_url' });
        }
        return { call_page_url: url };
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
      video_settings_get: () => ({ call_page_url: 'https://clinic.example/call.html' }),
      video_settings_update: () => new Refusal({ code: 'forbidden', message: 'You are not allowed to change settings.', field: null }),
    });
    render(VideoSettings);
    await userEvent.click(await screen.findByRole('button', { name: 'Save video settings' }));
    expect(await screen.findByText('Only an administrator can change it.', { exact: false })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Save video settings' })).toBeNull();
  });
});
