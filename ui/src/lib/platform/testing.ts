// Test helpers that stand in for the Rust side of IPC (kept here: only platform/ touches @tauri-apps).
import { mockIPC, clearMocks } from '@tauri-apps/api/mocks';
import type { ApiError } from './bindings/ApiError';

export type Handler = (args: Record<string, unknown>) => unknown;

/** A rejection shaped exactly like the shell's ApiError. */
export class Refusal {
  constructor(readonly error: ApiError) {}
}

/** Answers each command with its handler; a Refusal is thrown as the command's error. Records calls. */
export function fakeBackend(handlers: Record<string, Handler>) {
  const calls: { command: string; args: Record<string, unknown> }[] = [];
  mockIPC((command, args) => {
    const payload = (args ?? {}) as Record<string, unknown>;
    calls.push({ command, args: payload });
    const handler = handlers[command];
    if (!handler) throw { code: 'storage', message: `no fake for ${command}`, field: null } satisfies ApiError;
    const answer = handler(payload);
    if (answer instanceof Refusal) throw answer.error;
    return answer;
  });
  return { calls, reset: clearMocks };
}
