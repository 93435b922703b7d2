// The dev harness behind /call-harness.html: mounts the call components on the doubles and drives them to
// a chosen state, so a person or a browser test (tests/components/) can look at them at any size.
//
//   ?view=preview|call|chat|all     which components (default all)
//   ?drive=none                     emit nothing: the test drives the doubles through `window.harness`
//   ?state=connected|reconnecting|reconnected|ended   where the call is left (default connected)
//   ?media=denied|no-camera|no-devices   the preview on testing/media.ts's stand-ins instead of the
//                                   browser's own navigator.mediaDevices (the default, so Chromium's
//                                   --use-fake-device-for-media-stream camera and microphone are used)
//   ?sdk=real                       the preview's support check from the real twilio-video
//   ?view=patient&link=open|early|over   the patient's page (src/patientpage/) on a link made now
//                                   (an unsigned stand-in token; the doubles never check it)
//
// Joining from the preview always goes to the FakeCallBackend. `window.harness` exposes the doubles, a log
// of what the components asked of the host (join, end, leave, refreshToken), and `ready` once mounted.
import '../../../app.css';
import { mount } from 'svelte';
import CallView from '../CallView.svelte';
import ChatPanel from '../ChatPanel.svelte';
import DevicePreview from '../DevicePreview.svelte';
import type { ChosenDevices } from '../types';
import { FakeCallBackend, FakeTrack, patientParty } from './call';
import { FakeChatBackend, fakeMedia } from './chat';
import { RestChatBackend } from './restChat';
import { installMediaDevices, type MediaScenario } from './media';
import { paintedStream } from './streams';

const params = new URLSearchParams(location.search);
const view = params.get('view') ?? 'all';
const driven = params.get('drive') !== 'none';
const media = params.get('media');
const target = document.getElementById('app')!;
const DOCTOR = 'd-7a1b90';
const names = { [patientParty.identity]: 'Ana Silva' };
const log: string[] = [];
const calls = new FakeCallBackend();
const chats = new FakeChatBackend(DOCTOR, (c) => {
  // A sent file comes back playable, as Twilio serves the upload.
  c.serveFile = (file) => URL.createObjectURL(file);
  c.horizons[patientParty.identity] = 1;
  c.receive({ author: patientParty.identity, body: 'Hello doctor, I can see you.' });
  c.receive({ author: DOCTOR, body: 'Good morning Ana. How is the rash today?' });
  c.receive({ author: patientParty.identity, body: null, media: [fakeMedia({ name: 'rash.pdf', type: 'application/pdf', size: 812_000 })] });
});
let chatTokens = 1;
/** The patient's side of the chat (view=patient): empty until the doctor or the patient writes. */
const patientChats = new FakeChatBackend('p-5f0c2e');

/** A remote or local track that plays a painted picture in a real browser. */
function paintedTrack(name: string, label: string, background: string): FakeTrack {
  return new FakeTrack('video', name, paintedStream(label, background));
}

const harness = {
  calls,
  chats,
  patientChats,
  log,
  names,
  patient: patientParty,
  doctor: DOCTOR,
  FakeTrack,
  paintedTrack,
  ready: false,
  /** The room the call view is on (or the preview's join made). */
  get room() {
    return calls.last;
  },
  get conversation() {
    return chats.last;
  },
};
Object.assign(window, { harness });

async function previewBackend() {
  if (params.get('sdk') !== 'real') return calls;
  const { twilioCallBackend } = await import('../twilio');
  twilioCallBackend.isSupported().then((ok) => (document.title = `isSupported=${ok}`), (e) => (document.title = `error ${e}`));
  return twilioCallBackend;
}

function join(devices: ChosenDevices) {
  log.push(`join ${JSON.stringify(devices)}`);
  calls.connect('video-token', 'CD-room', devices);
}

/** A link as the core writes it, open now, not yet open, or expired. */
function patientLink(moment: string): string {
  const b64 = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  const now = Math.floor(Date.now() / 1000);
  const starts = moment === 'early' ? now + 7200 : moment === 'over' ? now - 7200 : now + 300;
  const claims = { grants: { identity: 'p-5f0c2e', video: { room: 'CD-room' } }, nbf: starts - 900, exp: starts + 3600 };
  const token = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.c2lnbmF0dXJl`;
  const fields = { t: token, c: 'Riverside Clinic', p: '020 7946 0000', d: 'Dr Amara Okafor', n: 'Ana', w: new Date(starts * 1000).toISOString() };
  return '#' + new URLSearchParams(fields).toString();
}

async function main() {
  if (media) installMediaDevices(media as MediaScenario);
  if (view === 'patient') {
    const { default: PatientPage } = await import('../../../patientpage/PatientPage.svelte');
    // chat=missing: the waiting room's conversation is not there at first (Twilio failed at the invite).
    if (params.get('chat') === 'missing') patientChats.missing = 1;
    // chat=rest (the end-to-end test): the chat through the fake Twilio's REST API at the same-origin
    // path `fake`, and the real link the clinic texted in `hash`.
    const rest = params.get('chat') === 'rest';
    const chatBackend = rest ? new RestChatBackend(params.get('fake') ?? '/fake-twilio', params.get('key') ?? '', 500) : patientChats;
    const hash = params.get('hash') ?? patientLink(params.get('link') ?? 'open');
    mount(PatientPage, {
      target,
      props: { backend: calls, chatBackend, hash, retryMs: rest ? 1000 : 300, chatRetryMs: rest ? 1000 : 200 },
    });
    harness.ready = true;
    return;
  }
  if (view === 'preview' || view === 'all') {
    const box = target.appendChild(document.createElement('div'));
    mount(DevicePreview, { target: box, props: { backend: await previewBackend(), onjoin: join } });
  }
  const row = target.appendChild(document.createElement('div'));
  row.className = 'harness-row';
  if (view === 'call' || view === 'all') {
    const room = calls.connect('video-token', 'CD-room', {});
    // No words on this side's picture: the small view is mirrored, as a selfie is.
    room.camera.stream = paintedStream('', '#2f5d50');
    mount(CallView, {
      target: row.appendChild(document.createElement('div')),
      props: {
        session: room,
        remoteName: 'Ana Silva',
        onend: async () => void log.push('end'),
        onleave: () => log.push('leave'),
        onrejoin: () => log.push('rejoin'),
      },
    });
    if (driven) {
      const state = params.get('state') ?? 'connected';
      room.emit('connected', [patientParty]);
      room.emit('trackSubscribed', paintedTrack('patient', 'Ana Silva', '#35506b'), patientParty);
      room.emit('networkQualityLevelChanged', 3, patientParty);
      room.emit('networkQualityLevelChanged', 5, null);
      if (state === 'reconnecting') room.emit('reconnecting');
      if (state === 'reconnected') { room.emit('reconnecting'); room.emit('reconnected'); }
      if (state === 'ended') room.emit('disconnected', { code: 53118, message: 'Room completed' });
    }
  }
  if (view === 'chat' || view === 'all') {
    const conversation = await chats.open('chat-token-1', 'CH1');
    mount(ChatPanel, {
      target: row.appendChild(document.createElement('div')),
      props: {
        session: conversation,
        names,
        quickResponses: ['I will be with you in a minute.', 'Can you hear me?'],
        refreshToken: async () => {
          log.push('refreshToken');
          return `chat-token-${++chatTokens}`;
        },
      },
    });
    if (driven) conversation.emit('typingStarted', patientParty.identity);
  }
  harness.ready = true;
}

void main();
