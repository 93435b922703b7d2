import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeBackend } from '$lib/platform/testing';
import type { ConsultationJoin } from '$lib/platform/bindings/ConsultationJoin';
import { chooseCallHost, openChat } from '../host';
import { CoreChatSession } from '../coreChat';
import type { ChatSession } from '$lib/call';

const media = { mediaDevices: { getUserMedia: () => Promise.resolve() } } as unknown as Navigator;
const join = (live: boolean): ConsultationJoin => ({
  live_chat: live,
  token: {
    token: 'jwt', identity: 'd-1', room: 'cd-room', patient_identity: 'p-1', chat_service_sid: 'IS1',
    conversation_sid: 'CH1', expires_at: '2030-01-01T10:00:00Z', ttl_seconds: 3600,
  },
});

describe('the call host is chosen by what the webview can do', () => {
  it('no RTCPeerConnection (WebKitGTK today): the system browser', async () => {
    const backend = { isSupported: vi.fn(async () => true) };
    expect(await chooseCallHost({ navigator: media }, backend)).toBe('browser');
    expect(backend.isSupported).not.toHaveBeenCalled();
  });

  it('WebRTC and twilio-video support: the app window', async () => {
    expect(await chooseCallHost({ RTCPeerConnection: function () {}, navigator: media }, { isSupported: async () => true })).toBe('window');
  });

  it('WebRTC but twilio-video says no, or its check fails: the browser', async () => {
    const scope = { RTCPeerConnection: function () {}, navigator: media };
    expect(await chooseCallHost(scope, { isSupported: async () => false })).toBe('browser');
    expect(await chooseCallHost(scope, { isSupported: () => Promise.reject(new Error('no sdk')) })).toBe('browser');
  });

  it('WebRTC without camera access at all: the browser', async () => {
    expect(await chooseCallHost({ RTCPeerConnection: function () {}, navigator: {} as Navigator }, { isSupported: async () => true })).toBe('browser');
  });
});

describe('the chat: live when it connects, else through the core', () => {
  afterEach(() => fakeBackend({}).reset());

  it('Twilio routed elsewhere (live_chat false): the core, without trying the SDK', async () => {
    const live = { open: vi.fn() };
    const chat = await openChat('a1', join(false), live, 50);
    expect(chat.live).toBe(false);
    expect(chat.session).toBeInstanceOf(CoreChatSession);
    expect(chat.session.identity).toBe('d-1');
    expect(live.open).not.toHaveBeenCalled();
  });

  it('the SDK connects: live', async () => {
    const session = { identity: 'd-1', close: vi.fn() } as unknown as ChatSession;
    const chat = await openChat('a1', join(true), { open: async () => session }, 50);
    expect(chat).toEqual({ session, live: true });
  });

  it('the SDK fails or is too slow: the core, and a late connection is let go', async () => {
    expect((await openChat('a1', join(true), { open: () => Promise.reject(new Error('blocked')) }, 50)).live).toBe(false);
    let connect!: (s: ChatSession) => void;
    const late = { identity: 'd-1', close: vi.fn() } as unknown as ChatSession;
    const chat = await openChat('a1', join(true), { open: () => new Promise((resolve) => (connect = resolve)) }, 20);
    expect(chat.live).toBe(false);
    connect(late);
    await Promise.resolve();
    await Promise.resolve();
    expect(late.close).toHaveBeenCalled();
  });
});
