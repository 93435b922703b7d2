// The call seam's public face: hosts (the doctor's consultation screen, the system-browser call page,
// the patient's page) import from here. The SDK adapters are exported as values but load their SDKs
// only when first used.
export type * from './types';
export { CallState, formatElapsed, qualityInWords, type CallPhase, type RemoteParty } from './call.svelte';
export { ChatState } from './chat.svelte';
export { looksIdentifying, identifierHints, identifierWarning } from './identifiers';
export { attachmentProblem, MAX_ATTACHMENT_BYTES } from './attachments';
export { twilioCallBackend } from './twilio';
export { twilioChatBackend } from './conversations';
export { default as CallView } from './CallView.svelte';
export { default as ChatPanel } from './ChatPanel.svelte';
export { default as DevicePreview } from './DevicePreview.svelte';
