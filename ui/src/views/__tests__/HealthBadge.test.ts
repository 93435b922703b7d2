import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import { fakeBackend } from '$lib/platform/testing';
import type { TwilioOverview } from '$lib/platform/bindings/TwilioOverview';
import HealthBadge from '../HealthBadge.svelte';

// What a receptionist's window receives: the verdict and any pause, never the check's details.
const forReception = (over: Partial<TwilioOverview>): TwilioOverview => ({
  configured: true, overall: 'ok', sending_paused: null, offline: false, status: null, health: null, ...over,
});

describe('Texts indicator in the top bar', () => {
  let backend: ReturnType<typeof fakeBackend>;
  afterEach(() => backend?.reset());

  it('says texts are working', async () => {
    backend = fakeBackend({ twilio_overview: () => forReception({}) });
    render(HealthBadge, { onOpen: vi.fn() });
    expect(await screen.findByRole('button', { name: /Texts: working/ })).toBeTruthy();
  });

  it('says sending is paused, why, and that nothing is lost', async () => {
    const reason = "Twilio refused ClinicDesk's credentials (Twilio 20003). An administrator should check the Account SID, API key and secrets in Settings.";
    backend = fakeBackend({
      twilio_overview: () => forReception({ overall: 'problem', sending_paused: { code: 20003, reason, since: '2026-11-23T09:00:00Z' } }),
    });
    render(HealthBadge, { onOpen: vi.fn() });
    const badge = await screen.findByRole('button', { name: /Texts: paused/ });
    expect(badge.getAttribute('title')).toContain('none is lost');
    expect(badge.getAttribute('title')).toContain('(Twilio 20003)');
  });

  it('tells staff without the details to ask an administrator', async () => {
    backend = fakeBackend({ twilio_overview: () => forReception({ overall: 'problem' }) });
    render(HealthBadge, { onOpen: vi.fn() });
    const badge = await screen.findByRole('button', { name: /Texts: problem/ });
    expect(badge.getAttribute('title')).toContain('An administrator can see what is wrong in Settings');
  });

  it('says once, quietly, that this computer is offline, and that the rest still works', async () => {
    backend = fakeBackend({ twilio_overview: () => forReception({ overall: 'problem', offline: true }) });
    render(HealthBadge, { onOpen: vi.fn() });
    const badge = await screen.findByRole('button', { name: /^Offline\./ });
    expect(badge.getAttribute('title')).toContain('past consultations still work');
    expect(screen.queryByText(/Texts: problem/)).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('asks again within seconds while the first check is still coming, so "checking…" does not stay up', async () => {
    // The core's first check can take ten seconds or more when Twilio does not answer (each call
    // is retried); the indicator used to ask only every 30 seconds and stayed on "checking…".
    vi.useFakeTimers();
    try {
      let checked = false;
      backend = fakeBackend({ twilio_overview: () => forReception(checked ? { overall: 'problem', offline: true } : { overall: null }) });
      render(HealthBadge, { onOpen: vi.fn() });
      await vi.waitFor(() => expect(screen.getByRole('button', { name: /Texts: checking/ })).toBeTruthy());
      checked = true;
      await vi.advanceTimersByTimeAsync(2_500);
      expect(screen.getByRole('button', { name: /^Offline\./ })).toBeTruthy();
    } finally {
      vi.useRealTimers();
    }
  });

  it('once settled, asks only every 30 seconds', async () => {
    vi.useFakeTimers();
    try {
      let asked = 0;
      backend = fakeBackend({ twilio_overview: () => { asked += 1; return forReception({}); } });
      render(HealthBadge, { onOpen: vi.fn() });
      await vi.waitFor(() => expect(screen.getByRole('button', { name: /Texts: working/ })).toBeTruthy());
      const first = asked;
      await vi.advanceTimersByTimeAsync(20_000);
      expect(asked).toBe(first);
      await vi.advanceTimersByTimeAsync(11_000);
      expect(asked).toBe(first + 1);
    } finally {
      vi.useRealTimers();
    }
  });
});
