// ChatPanel on the FakeConversation, driven with @twilio/conversations' event names from the test. The
// harness's conversation starts with three messages (index 0–2; the doctor's at index 1, read by Ana).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { drive, finish, openHarness, useHarness } from '../harness.mjs';

let server;
let browser;
useHarness((s, b) => {
  server = s;
  browser = b;
});

const open = () => openHarness(browser, server.origin, 'view=chat&drive=none');
const messages = (page) => page.getByRole('log', { name: 'Messages' }).locator('li.message');
const shown = (page) =>
  messages(page).evaluateAll((items) => items.map((li) => ({
    index: Number(li.dataset.index),
    author: li.querySelector('.author')?.textContent,
    body: li.querySelector('.body')?.textContent ?? null,
    receipt: li.querySelector('.receipt')?.textContent ?? null,
  })));
const sent = (page) => drive(page, (h) => h.conversation.messages.map((m) => m.body));
const box = (page) => page.getByLabel('Message', { exact: true });
// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgaPj/HwAE/gJ+W3qt7QAAAABJRU5ErkJggg==', 'base64');

describe('ChatPanel driven by the FakeConversation', () => {
  test('the history, named from the clinic’s records, with the attachment and the read receipt', async () => {
    const page = await open();
    await messages(page).nth(2).waitFor();
    assert.deepEqual(await shown(page), [
      { index: 0, author: 'Ana Silva', body: 'Hello doctor, I can see you.', receipt: null },
      { index: 1, author: 'You', body: 'Good morning Ana. How is the rash today?', receipt: 'Read' },
      { index: 2, author: 'Ana Silva', body: null, receipt: null },
    ]);
    const pdf = messages(page).nth(2).getByRole('link', { name: /rash\.pdf/ });
    assert.equal(await pdf.getAttribute('href'), 'blob:fake/rash.pdf');
    assert.match(await pdf.innerText(), /\(793 kB\)/);
    const identity = await drive(page, (h) => h.patient.identity);
    assert.ok(!(await page.locator('body').innerText()).includes(identity), 'the opaque identity is shown');
    await finish(page);
  });

  test('messageAdded appends the message, and the panel marks it read', async () => {
    const page = await open();
    await messages(page).nth(2).waitFor();
    await drive(page, (h) => h.conversation.receive({ author: h.patient.identity, body: 'It is less red today.' }));
    await messages(page).nth(3).getByText('It is less red today.').waitFor();
    assert.deepEqual((await shown(page)).at(-1), { index: 3, author: 'Ana Silva', body: 'It is less red today.', receipt: null });
    await page.waitForFunction(() => window.harness.conversation.readMarks.includes(3));
    await finish(page);
  });

  test('typingStarted shows who is typing; typingEnded (or their message) hides it', async () => {
    const page = await open();
    await messages(page).nth(2).waitFor();
    const typing = page.locator('p.typing');
    assert.equal(await typing.textContent(), '');
    await drive(page, (h) => h.conversation.emit('typingStarted', h.patient.identity));
    await typing.getByText('Ana Silva is typing…', { exact: true }).waitFor();
    await drive(page, (h) => h.conversation.emit('typingEnded', h.patient.identity));
    await page.waitForFunction(() => document.querySelector('p.typing').textContent === '');

    await drive(page, (h) => h.conversation.emit('typingStarted', h.patient.identity));
    await typing.getByText('Ana Silva is typing…', { exact: true }).waitFor();
    await drive(page, (h) => h.conversation.receive({ author: h.patient.identity, body: 'Sorry, here it is.' }));
    await page.waitForFunction(() => document.querySelector('p.typing').textContent === '');
    await finish(page);
  });

  test('participantUpdated moves the read receipt from Sent to Read', async () => {
    const page = await open();
    await messages(page).nth(2).waitFor();
    await box(page).fill('Please send a photo in daylight.');
    await box(page).press('Enter');
    const mine = messages(page).nth(3);
    await mine.getByText('Please send a photo in daylight.').waitFor();
    assert.equal(await mine.locator('.receipt').textContent(), 'Sent');
    await drive(page, (h) => h.conversation.read(h.patient.identity, 3));
    await mine.locator('.receipt.read', { hasText: 'Read' }).waitFor();
    await finish(page);
  });

  test('tokenAboutToExpire fetches a new token and gives it to the session', async () => {
    const page = await open();
    await messages(page).nth(2).waitFor();
    assert.deepEqual(await drive(page, (h) => h.conversation.tokens), ['chat-token-1']);
    await drive(page, (h) => h.conversation.emit('tokenAboutToExpire'));
    await page.waitForFunction(() => window.harness.conversation.tokens.length === 2);
    assert.deepEqual(await drive(page, (h) => h.conversation.tokens), ['chat-token-1', 'chat-token-2']);
    assert.deepEqual(await drive(page, (h) => h.log), ['refreshToken']);
    assert.equal(await page.getByRole('alert').count(), 0);
    await finish(page);
  });

  test('a phone number gives a warning before anything is sent; Send anyway sends it', async () => {
    const page = await open();
    await messages(page).nth(2).waitFor();
    const before = await sent(page);
    await box(page).fill('If it gets worse call me on 07700 900123');
    await box(page).press('Enter');
    const warning = page.getByRole('alert').filter({ hasText: 'looks like it contains a phone number' });
    await warning.waitFor();
    assert.match(await warning.innerText(), /Chat is not the place for identifiers/);
    assert.deepEqual(await sent(page), before, 'sent before the warning was answered');
    await warning.getByRole('button', { name: 'Send anyway' }).click();
    await messages(page).nth(3).getByText('If it gets worse call me on 07700 900123').waitFor();
    assert.deepEqual(await sent(page), [...before, 'If it gets worse call me on 07700 900123']);
    assert.equal(await box(page).inputValue(), '');
    await finish(page);
  });

  test('a date of birth gives the warning; Edit the message goes back to the draft unsent', async () => {
    const page = await open();
    await messages(page).nth(2).waitFor();
    const before = await sent(page);
    await box(page).fill('Her date of birth is 03/04/1985');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const warning = page.getByRole('alert').filter({ hasText: 'looks like it contains a date (of birth?)' });
    await warning.waitFor();
    assert.equal(await warning.evaluate((el) => el === document.activeElement), true, 'the warning takes the focus');
    await warning.getByRole('button', { name: 'Edit the message' }).click();
    await warning.waitFor({ state: 'detached' });
    assert.equal(await box(page).evaluate((el) => el === document.activeElement), true);
    assert.equal(await box(page).inputValue(), 'Her date of birth is 03/04/1985');
    assert.deepEqual(await sent(page), before);
    await finish(page);
  });

  test('an attachment over 10 MB is refused with a sentence; a small image is previewed and sent', async () => {
    const page = await open();
    await messages(page).nth(2).waitFor();
    const picker = page.locator('input[type=file]');
    const before = await sent(page);
    await picker.setInputFiles({ name: 'scan.pdf', mimeType: 'application/pdf', buffer: Buffer.alloc(11 * 1024 * 1024, 1) });
    const refusal = page.getByRole('alert').filter({ hasText: '“scan.pdf” is 11.0 MB; files up to 10 MB can be sent.' });
    await refusal.waitFor();
    assert.equal(await page.getByLabel('Attachment to send').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Send', exact: true }).isDisabled(), true);
    assert.deepEqual(await sent(page), before);

    await picker.setInputFiles({ name: 'arm.png', mimeType: 'image/png', buffer: PNG });
    await page.getByLabel('Attachment to send').getByRole('img', { name: 'Preview of arm.png' }).waitFor();
    assert.equal(await refusal.count(), 0);
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const image = messages(page).nth(3).getByRole('img', { name: 'arm.png' });
    await image.waitFor();
    await page.waitForFunction((img) => img.complete && img.naturalWidth === 1, await image.elementHandle());
    const media = await drive(page, (h) => h.conversation.messages.at(-1).media.map((m) => [m.filename, m.contentType, m.size]));
    assert.deepEqual(media, [['arm.png', 'image/png', PNG.length]]);
    assert.equal(await page.getByLabel('Attachment to send').count(), 0);
    await finish(page);
  });

  test('keyboard: Enter sends, Shift+Enter starts a new line; typing tells the others', async () => {
    const page = await open();
    await messages(page).nth(2).waitFor();
    await box(page).focus();
    await page.keyboard.type('Take it twice a day');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('with food');
    assert.equal(await box(page).inputValue(), 'Take it twice a day\nwith food');
    assert.equal((await sent(page)).length, 3);
    assert.ok((await drive(page, (h) => h.conversation.typingCalls)) > 0, 'typing() was not called');
    await page.keyboard.press('Enter');
    await messages(page).nth(3).waitFor();
    assert.equal((await sent(page)).at(-1), 'Take it twice a day\nwith food');
    assert.equal(await box(page).inputValue(), '');
    assert.equal(await box(page).evaluate((el) => el === document.activeElement), true, 'focus stays in the box');
    await finish(page);
  });
});
