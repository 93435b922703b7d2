// The call page's side of the one-time link: take the code from the fragment (and drop it from the
// address bar and history at once), trade it for the ticket, and report the call's state back to the
// app. Nothing is stored in the browser; the code is never sent anywhere but to the app itself.

export interface Ticket {
  appointment_id: string;
  token: string;
  identity: string;
  room: string;
  remote_name: string;
  expires_at: string;
  report_key: string;
}

export type HostPhase = 'opened' | 'joining' | 'connected' | 'reconnecting' | 'disconnected';

/** The code in `#code=…`, removed from the address (history.replaceState) before anything else. */
export function takeCode(loc: Location = location, hist: History = history): string | null {
  const code = new URLSearchParams(loc.hash.replace(/^#/, '')).get('code');
  if (loc.hash) hist.replaceState(null, '', loc.pathname);
  return code && /^[A-Za-z0-9_-]{16,}$/.test(code) ? code : null;
}

export class LinkProblem extends Error {}

/** Trades the code for the ticket; a refusal carries the app's sentence. */
export async function exchange(code: string, fetcher: typeof fetch = fetch): Promise<Ticket> {
  let response: Response;
  try {
    response = await fetcher('/api/exchange', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code }),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new LinkProblem('ClinicDesk is not answering. Is it still open? Open the call again from ClinicDesk.');
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new LinkProblem(body?.message ?? 'This link does not work. Open the call again from ClinicDesk.');
  return body as Ticket;
}

/** Tells the app how the call is going. Best effort: the call never waits for it. */
export function reporter(key: string, fetcher: typeof fetch = fetch) {
  return (phase: HostPhase, message?: string) => {
    fetcher('/api/report', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ phase, message: message ?? null }),
      credentials: 'omit',
      keepalive: true,
    }).catch(() => {});
  };
}
