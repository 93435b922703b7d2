import { describe, expect, it, vi } from 'vitest';
import { exchange, LinkProblem, reporter, takeCode } from '../link';

const answer = (status: number, body: unknown) => vi.fn(async () => new Response(JSON.stringify(body), { status }));

describe('the call page\'s one-time link', () => {
  it('takes the code from the fragment and removes it from the address at once', () => {
    const replaceState = vi.fn();
    const code = takeCode({ hash: '#code=Abc_def-0123456789xyz', pathname: '/call.html' } as Location, { replaceState } as unknown as History);
    expect(code).toBe('Abc_def-0123456789xyz');
    expect(replaceState).toHaveBeenCalledWith(null, '', '/call.html');
    expect(takeCode({ hash: '#code=<script>', pathname: '/call.html' } as Location, { replaceState } as unknown as History)).toBeNull();
    expect(takeCode({ hash: '', pathname: '/call.html' } as Location, { replaceState } as unknown as History)).toBeNull();
  });

  it('trades the code for the ticket, and a refusal carries the app\'s sentence', async () => {
    const ok = answer(200, { room: 'cd-1', token: 'jwt', report_key: 'k' });
    expect((await exchange('code', ok as unknown as typeof fetch)).room).toBe('cd-1');
    const [url, init] = ok.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/exchange');
    expect(JSON.parse(init.body as string)).toEqual({ code: 'code' });
    const used = answer(410, { message: 'This link was already used. Open the call again from ClinicDesk.' });
    await expect(exchange('code', used as unknown as typeof fetch)).rejects.toThrow('This link was already used.');
    const down = vi.fn(async () => { throw new TypeError('fetch failed'); });
    await expect(exchange('code', down as unknown as typeof fetch)).rejects.toBeInstanceOf(LinkProblem);
  });

  it('reports the phase with the report key, and a failed report is quiet', async () => {
    const sent = vi.fn(async () => new Response(null, { status: 204 }));
    reporter('key-1', sent as unknown as typeof fetch)('reconnecting');
    const [url, init] = sent.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/report');
    expect((init.headers as Record<string, string>).authorization).toBe('Bearer key-1');
    expect(JSON.parse(init.body as string)).toEqual({ phase: 'reconnecting', message: null });
    expect(() => reporter('k', vi.fn(async () => { throw new Error('down'); }) as unknown as typeof fetch)('connected')).not.toThrow();
  });
});
