// This computer as a desk of a clinic server, for the top bar and the schedule: the link's state,
// the changes not yet confirmed by the server and those it refused. One instance per signed-in
// workspace on a desk; it polls while mounted (the core's sync loop does the work).
import { api } from '$lib/platform/api';
import type { DeskStatus } from '$lib/platform/bindings/DeskStatus';

export const DESK_POLL_MS = 2_000;

export class DeskWatch {
  /** `null` until the core first answers, and on a one-desk clinic. */
  status: DeskStatus | null = $state(null);
  /** Appointments with a change saved here that the server has not confirmed yet. */
  unconfirmed: Set<string> = $derived(new Set(this.status?.waiting.map((w) => w.entity_id) ?? []));

  async refresh(): Promise<void> {
    try {
      this.status = await api.deskStatus();
    } catch {
      /* the badge keeps the last state; a session that ended is handled by onSessionEnded */
    }
  }

  watch(everyMs: number = DESK_POLL_MS): () => void {
    this.refresh();
    const timer = setInterval(() => this.refresh(), everyMs);
    return () => clearInterval(timer);
  }
}

/** The top bar's words for the desk's state. */
export function deskInWords(status: DeskStatus): { tone: 'ok' | 'off' | 'warning' | 'problem'; label: string; detail: string } {
  const waiting = status.waiting.length;
  const refused = status.needs_attention.length;
  const pending = waiting === 1 ? '1 change waiting' : `${waiting} changes waiting`;
  if (refused > 0) {
    return { tone: 'problem', label: refused === 1 ? '1 change needs attention' : `${refused} changes need attention`, detail: 'The clinic server did not accept some changes made on this desk. Open the list to see why and rebook.' };
  }
  switch (status.connection) {
    case 'connected':
      return waiting > 0
        ? { tone: 'warning', label: `Sending · ${pending}`, detail: 'Changes made here are on their way to the clinic server.' }
        : { tone: 'ok', label: 'Clinic server: connected', detail: `Up to date with ${status.server_url}.` };
    case 'offline':
      return { tone: 'warning', label: waiting > 0 ? `Offline · ${pending}` : 'Offline', detail: 'The clinic server cannot be reached. You can keep working with what this computer has; changes are saved here and sent when it is back.' };
    case 'needs_sign_in':
      return { tone: 'warning', label: 'Sign in again to sync', detail: 'You signed in while the clinic server could not be reached. Sign out and in again so this desk can send its changes and receive the latest schedule.' };
    default:
      return { tone: 'off', label: 'Clinic server: connecting…', detail: `Connecting to ${status.server_url}.` };
  }
}
