import { describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import ChatPanel from '../ChatPanel.svelte';
import { FakeChatBackend, FakeConversation, fakeMedia } from '../testing/chat';

const DOCTOR = 'd-7a1b90';
const PATIENT = 'p-5f0c2e';
const names = { [PATIENT]: 'Ana Silva' };
const today = new Date('2026-11-23T12:00:00Z');

async function open(prepare?: (c: FakeConversation) => void, props: Record<string, unknown> = {}) {
  const backend = new FakeChatBackend(DOCTOR, prepare);
  const conversation = await backend.open('chat-token-1', 'CH123');
  render(ChatPanel, { session: conversation, names, today, ...props });
  const log = screen.getByRole('log', { name: 'Messages' });
  return { conversation, log, user: userEvent.setup() };
}

function file(name: string, type: string, size: number): File {
  const f = new File(['x'], name, { type });
  Object.defineProperty(f, 'size', { value: size });
  return f;
}

describe('ChatPanel', () => {
  it('shows the history with names from the records, then new messages as they arrive', async () => {
    const { conversation, log } = await open((c) => {
      c.receive({ author: PATIENT, body: 'Hello doctor' });
      c.receive({ author: DOCTOR, body: 'Good morning' });
    });
    await within(log).findByText('Good morning');
    const items = within(log).getAllByRole('listitem');
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveTextContent('Ana Silva');
    expect(items[0]).toHaveTextContent('Hello doctor');
    expect(items[1]).toHaveTextContent('Good morning');
    expect(items[1]).toHaveTextContent('You');
    expect(log.textContent).not.toContain(PATIENT);

    conversation.receive({ author: PATIENT, body: 'I have a photo of the rash' });
    expect(await within(log).findByText('I have a photo of the rash')).toBeInTheDocument();
    // everything shown is marked read
    await vi.waitFor(() => expect(conversation.readMarks.at(-1)).toBe(2));
  });

  it('sends a message with Enter, keeps Shift+Enter for a new line, and says typing', async () => {
    const { conversation, log, user } = await open();
    const box = screen.getByRole('textbox', { name: 'Message' });
    await user.type(box, 'Please rest{Shift>}{Enter}{/Shift}and drink water{Enter}');
    expect(await within(log).findByText(/Please rest\s+and drink water/)).toBeInTheDocument();
    expect(conversation.messages[0].body).toBe('Please rest\nand drink water');
    expect(conversation.typingCalls).toBeGreaterThan(0);
    expect(box).toHaveValue('');
  });

  it('refuses a message over Twilio’s 1,600 characters with the limit, not a connection problem, and keeps it', async () => {
    const { conversation, user } = await open();
    const box = screen.getByRole('textbox', { name: 'Message' });
    const long = 'word '.repeat(400).trim(); // 1,999 characters
    await user.click(box);
    await user.paste(long);
    await user.click(screen.getByRole('button', { name: 'Send' }));
    expect(await screen.findByText('A chat message can be up to 1,600 characters (this one has 1,999); split it.')).toBeInTheDocument();
    expect(conversation.messages).toHaveLength(0);
    expect(box).toHaveValue(long);
  });

  it('shows who is typing, by name, and stops when they stop', async () => {
    const { conversation } = await open();
    conversation.emit('typingStarted', PATIENT);
    expect(await screen.findByText('Ana Silva is typing…')).toBeInTheDocument();
    conversation.emit('typingEnded', PATIENT);
    await vi.waitFor(() => expect(screen.queryByText(/is typing/)).toBeNull());
    conversation.emit('typingStarted', PATIENT);
    conversation.receive({ author: PATIENT, body: 'Done' });
    await vi.waitFor(() => expect(screen.queryByText(/is typing/)).toBeNull());
  });

  it('marks this side’s messages Read once the other side’s read horizon passes them', async () => {
    const { conversation, log } = await open((c) => {
      c.horizons[PATIENT] = null;
      c.receive({ author: DOCTOR, body: 'First' });
      c.receive({ author: DOCTOR, body: 'Second' });
    });
    const first = (await within(log).findByText('First')).closest('li')!;
    const second = within(log).getByText('Second').closest('li')!;
    expect(first).toHaveTextContent('Sent');
    expect(second).toHaveTextContent('Sent');
    conversation.read(PATIENT, 0);
    await vi.waitFor(() => expect(first).toHaveTextContent('Read'));
    expect(second).toHaveTextContent('Sent');
    conversation.read(PATIENT, 1);
    await vi.waitFor(() => expect(second).toHaveTextContent('Read'));
  });

  it('refuses a file over 10 MB, or of another type, with a sentence, and sends nothing', async () => {
    const { conversation, user } = await open();
    const picker = document.querySelector('input[type=file]') as HTMLInputElement;
    await user.upload(picker, file('scan.pdf', 'application/pdf', 11 * 1024 * 1024));
    expect(await screen.findByRole('alert')).toHaveTextContent('“scan.pdf” is 11.0 MB; files up to 10 MB can be sent.');
    expect(screen.queryByLabelText('Attachment to send')).toBeNull();
    // The picker's `accept` filters in most browsers, but not every one (and not a drop): check anyway.
    const anyFile = userEvent.setup({ applyAccept: false });
    await anyFile.upload(picker, file('notes.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 2000));
    expect(await screen.findByRole('alert')).toHaveTextContent('only images (JPEG, PNG, GIF, WebP, HEIC) and PDF files');
    expect(conversation.messages).toEqual([]);
  });

  it('previews an accepted file before sending, then shows it in the history', async () => {
    const { conversation, log, user } = await open();
    const picker = document.querySelector('input[type=file]') as HTMLInputElement;
    await user.upload(picker, file('results.pdf', 'application/pdf', 10 * 1024 * 1024));
    const pending = screen.getByLabelText('Attachment to send');
    expect(pending).toHaveTextContent('results.pdf (10.0 MB)');
    await user.click(screen.getByRole('button', { name: 'Send' }));
    await vi.waitFor(() => expect(conversation.messages).toHaveLength(1));
    expect(conversation.messages[0].media[0].filename).toBe('results.pdf');
    const link = await within(log).findByRole('link', { name: /results\.pdf/ });
    expect(link).toHaveAttribute('href', 'blob:fake/results.pdf');
    expect(screen.queryByLabelText('Attachment to send')).toBeNull();
  });

  it('shows a received image as an image', async () => {
    const { log } = await open((c) => {
      c.receive({ author: PATIENT, body: null, media: [fakeMedia({ name: 'rash.jpg', type: 'image/jpeg', size: 120_000 })] });
    });
    expect(await within(log).findByRole('img', { name: 'rash.jpg' })).toHaveAttribute('src', 'blob:fake/rash.jpg');
  });

  it('warns before sending what looks like an identifier; Edit keeps it, Send anyway sends it', async () => {
    const { conversation, log, user } = await open();
    const box = screen.getByRole('textbox', { name: 'Message' });
    await user.type(box, 'Your DOB is 03/04/1985?{Enter}');
    const warning = await screen.findByRole('alert');
    expect(warning).toHaveTextContent('looks like it contains a date (of birth?)');
    expect(warning).toHaveFocus();
    expect(conversation.messages).toEqual([]);

    await user.click(within(warning).getByRole('button', { name: 'Edit the message' }));
    expect(screen.queryByRole('alert')).toBeNull();
    expect(box).toHaveValue('Your DOB is 03/04/1985?');
    expect(box).toHaveFocus();

    await user.click(screen.getByRole('button', { name: 'Send' }));
    await user.click(within(await screen.findByRole('alert')).getByRole('button', { name: 'Send anyway' }));
    expect(await within(log).findByText('Your DOB is 03/04/1985?')).toBeInTheDocument();
  });

  it('puts a quick response in the box without sending it', async () => {
    const { conversation, user } = await open(undefined, { quickResponses: ['I will be with you in a minute.', 'Can you hear me?'] });
    const group = screen.getByRole('group', { name: 'Quick responses' });
    await user.click(within(group).getByRole('button', { name: 'Can you hear me?' }));
    expect(screen.getByRole('textbox', { name: 'Message' })).toHaveValue('Can you hear me?');
    expect(conversation.messages).toEqual([]);
  });

  it('says so when a message could not be sent, and keeps the text', async () => {
    const { conversation, user } = await open();
    conversation.failNextSend = 'network';
    const box = screen.getByRole('textbox', { name: 'Message' });
    await user.type(box, 'Are you there?{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('The message was not sent. Check the connection and try again.');
    expect(box).toHaveValue('Are you there?');
  });

  it('refreshes the chat token when it is about to expire', async () => {
    const refreshToken = vi.fn(async () => 'chat-token-2');
    const { conversation } = await open(undefined, { refreshToken });
    conversation.emit('tokenAboutToExpire');
    await vi.waitFor(() => expect(conversation.tokens).toEqual(['chat-token-1', 'chat-token-2']));
  });

  it('says the chat is signed out when the token expired and cannot be renewed', async () => {
    const { conversation } = await open();
    conversation.emit('tokenExpired');
    expect(await screen.findByRole('alert')).toHaveTextContent('The chat has been signed out.');
  });

  it('shows the history only once the conversation is closed', async () => {
    await open((c) => c.receive({ author: PATIENT, body: 'Thanks' }), { closed: true });
    expect(await screen.findByText('Thanks')).toBeInTheDocument();
    expect(screen.queryByRole('textbox', { name: 'Message' })).toBeNull();
    expect(screen.getByText(/This chat is closed/)).toBeInTheDocument();
  });
});
