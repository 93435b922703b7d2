// The dev harness behind /call-harness.html: mounts the call components on the doubles (or, with
// ?sdk=real, the preview on the real twilio-video support check) and drives them to a chosen state, so a
// person or a browser test can look at them at any size. `window.harness` exposes the doubles.
import '../../../app.css';
import { mount } from 'svelte';
import CallView from '../CallView.svelte';
import ChatPanel from '../ChatPanel.svelte';
import DevicePreview from '../DevicePreview.svelte';
import { twilioCallBackend } from '../twilio';
import { FakeCallBackend, FakeTrack, patientParty } from './call';
import { FakeChatBackend, fakeMedia } from './chat';

const params = new URLSearchParams(location.search);
const view = params.get('view') ?? 'all';
const target = document.getElementById('app')!;
const DOCTOR = 'd-7a1b90';
const names = { [patientParty.identity]: 'Ana Silva' };
const calls = new FakeCallBackend();
const chats = new FakeChatBackend(DOCTOR, (c) => {
  c.horizons[patientParty.identity] = 1;
  c.receive({ author: patientParty.identity, body: 'Hello doctor, I can see you.' });
  c.receive({ author: DOCTOR, body: 'Good morning Ana. How is the rash today?' });
  c.receive({ author: patientParty.identity, body: null, media: [fakeMedia({ name: 'rash.pdf', type: 'application/pdf', size: 812_000 })] });
});
const log: string[] = [];
Object.assign(window, { harness: { calls, chats, log } });

async function main() {
  if (view === 'preview' || view === 'all') {
    const box = target.appendChild(document.createElement('div'));
    const backend = params.get('sdk') === 'real' ? twilioCallBackend : calls;
    mount(DevicePreview, { target: box, props: { backend, onjoin: (d) => log.push(`join ${JSON.stringify(d)}`) } });
    if (params.get('sdk') === 'real') {
      backend.isSupported().then((ok) => (document.title = `isSupported=${ok}`), (e) => (document.title = `error ${e}`));
    }
  }
  const row = target.appendChild(document.createElement('div'));
  row.style.cssText = 'display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:0.75rem;margin-top:0.75rem';
  if (view === 'call' || view === 'all') {
    const room = calls.connect('tok', 'room', {});
    mount(CallView, { target: row.appendChild(document.createElement('div')), props: { session: room, remoteName: 'Ana Silva', onend: async () => {} } });
    const state = params.get('state') ?? 'connected';
    room.emit('connected', [patientParty]);
    room.emit('trackSubscribed', new FakeTrack('video', 'patient'), patientParty);
    room.emit('networkQualityLevelChanged', 3, patientParty);
    room.emit('networkQualityLevelChanged', 5, null);
    if (state === 'reconnecting') room.emit('reconnecting');
    if (state === 'reconnected') { room.emit('reconnecting'); room.emit('reconnected'); }
    if (state === 'ended') room.emit('disconnected', { code: 53118, message: 'Room completed' });
  }
  if (view === 'chat' || view === 'all') {
    const conversation = await chats.open('tok', 'CH1');
    mount(ChatPanel, {
      target: row.appendChild(document.createElement('div')),
      props: { session: conversation, names, quickResponses: ['I will be with you in a minute.', 'Can you hear me?'] },
    });
    conversation.emit('typingStarted', patientParty.identity);
  }
}

void main();
