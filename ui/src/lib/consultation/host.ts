// Where the doctor's call runs, chosen by what this webview can do — never by operating system, so a
// WebKitGTK that gains WebRTC is used automatically:
// - `window`: the webview has RTCPeerConnection and twilio-video's support check passes (WebView2 on
//   Windows, WKWebView on macOS): the call runs in the app window.
// - `browser`: it has not (WebKitGTK on Linux today): the core serves the call page on a loopback port
//   and the app opens it in the system browser; the chat and the notes stay in the app window.
import { twilioCallBackend, twilioChatBackend, type ChatSession } from '$lib/call';
import type { ConsultationJoin } from '$lib/platform/bindings/ConsultationJoin';
import { CoreChatSession } from './coreChat';

export type CallHostKind = 'window' | 'browser';

export async function chooseCallHost(
  scope: { RTCPeerConnection?: unknown; navigator?: Navigator } = globalThis,
  backend: { isSupported(): Promise<boolean> } = twilioCallBackend,
): Promise<CallHostKind> {
  if (typeof scope.RTCPeerConnection !== 'function') return 'browser';
  if (typeof scope.navigator?.mediaDevices?.getUserMedia !== 'function') return 'browser';
  try {
    return (await backend.isSupported()) ? 'window' : 'browser';
  } catch {
    return 'browser';
  }
}

/** How long the live chat may take to connect before the chat goes through the core instead. */
export const LIVE_CHAT_WAIT_MS = 8000;

/**
 * The chat for a joined consultation: Twilio's live connection (typing, attachments) when allowed and
 * it connects in time, else the core's REST path, which works wherever the core reaches Twilio.
 */
export async function openChat(
  appointmentId: string,
  join: ConsultationJoin,
  live: { open(token: string, sid: string): Promise<ChatSession> } = twilioChatBackend,
  waitMs = LIVE_CHAT_WAIT_MS,
): Promise<{ session: ChatSession; live: boolean }> {
  const { token } = join;
  if (join.live_chat && token.conversation_sid && token.chat_service_sid) {
    const opening = live.open(token.token, token.conversation_sid);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), waitMs)));
    try {
      const session = await Promise.race([opening, late]);
      if (session) return { session, live: true };
      // Too slow: let it go when it does connect.
      opening.then((s) => s.close(), () => {});
    } catch {
      // Could not connect: fall through to the core.
    } finally {
      clearTimeout(timer);
    }
  }
  return { session: new CoreChatSession(appointmentId, token.identity, token.patient_identity), live: false };
}
