// The only module that talks to Rust. Every command is typed with the bindings generated from the
// Rust types (ts-rs, in ./bindings), so a change on either side fails type-checking here.
import { invoke, Channel } from '@tauri-apps/api/core';
import type { ApiError } from './bindings/ApiError';
import type { ApiErrorCode } from './bindings/ApiErrorCode';
import type { AppStatus } from './bindings/AppStatus';
import type { AuditEntry } from './bindings/AuditEntry';
import type { AppointmentChange } from './bindings/AppointmentChange';
import type { AttentionItem } from './bindings/AttentionItem';
import type { TextTimeline } from './bindings/TextTimeline';
import type { TextingSettings } from './bindings/TextingSettings';
import type { BookingRequest } from './bindings/BookingRequest';
import type { CallReport } from './bindings/CallReport';
import type { ChatLine } from './bindings/ChatLine';
import type { ChatView } from './bindings/ChatView';
import type { DeskIdentity } from './bindings/DeskIdentity';
import type { ClinicSettings } from './bindings/ClinicSettings';
import type { ConsultationBadge } from './bindings/ConsultationBadge';
import type { ConsultationFilter } from './bindings/ConsultationFilter';
import type { ConsultationPage } from './bindings/ConsultationPage';
import type { ConsultationRecord } from './bindings/ConsultationRecord';
import type { SavedExport } from './bindings/SavedExport';
import type { ConsultationJoin } from './bindings/ConsultationJoin';
import type { ConsultationRecording } from './bindings/ConsultationRecording';
import type { ConsultationStatus } from './bindings/ConsultationStatus';
import type { ConsultationToken } from './bindings/ConsultationToken';
import type { ClinicSettingsInput } from './bindings/ClinicSettingsInput';
import type { DaySchedule } from './bindings/DaySchedule';
import type { DemoSummary } from './bindings/DemoSummary';
import type { DeskStatus } from './bindings/DeskStatus';
import type { Doctor } from './bindings/Doctor';
import type { IncomingText } from './bindings/IncomingText';
import type { NewStaffUser } from './bindings/NewStaffUser';
import type { Patient } from './bindings/Patient';
import type { PatientInput } from './bindings/PatientInput';
import type { PatientMatches } from './bindings/PatientMatches';
import type { RescheduleRequest } from './bindings/RescheduleRequest';
import type { SetupRequest } from './bindings/SetupRequest';
import type { StaffProfile } from './bindings/StaffProfile';
import type { StaffUser } from './bindings/StaffUser';
import type { StaffUserChange } from './bindings/StaffUserChange';
import type { Template } from './bindings/Template';
import type { TemplateName } from './bindings/TemplateName';
import type { TemplatePreview } from './bindings/TemplatePreview';
import type { TextMessage } from './bindings/TextMessage';
import type { WaitingPatient } from './bindings/WaitingPatient';
import type { SearchHit } from './bindings/SearchHit';
import type { VideoSettings } from './bindings/VideoSettings';
import type { PublishProgress } from './bindings/PublishProgress';
import type { PublishedPage } from './bindings/PublishedPage';
import type { TextState } from './bindings/TextState';
import type { TwilioOverview } from './bindings/TwilioOverview';
import type { TwilioSettingsInput } from './bindings/TwilioSettingsInput';


/** A refusal from the core, carrying its code, a sentence for staff, and the field it is about. */
export class ApiFailure extends Error {
  readonly code: ApiErrorCode;
  readonly field: string | null;
  constructor(error: ApiError) {
    super(error.message);
    this.name = 'ApiFailure';
    this.code = error.code;
    this.field = error.field;
  }
}

type SessionEndedListener = (message: string) => void;
const sessionEndedListeners = new Set<SessionEndedListener>();

/** Called whenever any command finds the session gone (idle, expired, account changed). */
export function onSessionEnded(listener: SessionEndedListener): () => void {
  sessionEndedListeners.add(listener);
  return () => sessionEndedListeners.delete(listener);
}

function isApiError(value: unknown): value is ApiError {
  return typeof value === 'object' && value !== null && 'code' in value && 'message' in value;
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (raw) {
    const failure = isApiError(raw)
      ? new ApiFailure(raw)
      : new ApiFailure({ code: 'storage', message: `ClinicDesk could not complete that (${String(raw)}).`, field: null });
    if (failure.code === 'not_signed_in' && command !== 'sign_in' && command !== 'app_status') {
      sessionEndedListeners.forEach((listener) => listener(failure.message));
    }
    throw failure;
  }
}

export const api = {
  appStatus: () => call<AppStatus>('app_status'),
  setUp: (request: SetupRequest, loadSample: boolean) => call<StaffProfile>('set_up', { request, loadSample }),
  signIn: (email: string, password: string) => call<StaffProfile>('sign_in', { email, password }),
  signOut: (idle = false) => call<void>('sign_out', { idle }),
  sessionTouch: () => call<StaffProfile>('session_touch'),
  passwordChange: (currentPassword: string, newPassword: string) =>
    call<void>('password_change', { currentPassword, newPassword }),

  usersList: () => call<StaffUser[]>('users_list'),
  userAdd: (user: NewStaffUser) => call<StaffUser>('user_add', { user }),
  userUpdate: (id: string, change: StaffUserChange) => call<StaffUser>('user_update', { id, change }),
  userResetPassword: (id: string, password: string) => call<void>('user_reset_password', { id, password }),
  userUnlock: (id: string) => call<StaffUser>('user_unlock', { id }),
  auditRecent: (recordId: string | null) => call<AuditEntry[]>('audit_recent', { recordId }),

  patientsSearch: (text: string) => call<PatientMatches>('patients_search', { text }),
  patientAdd: (patient: PatientInput) => call<Patient>('patient_add', { patient }),
  patientUpdate: (id: string, patient: PatientInput, expectedVersion: number | null = null) =>
    call<Patient>('patient_update', { id, patient, expectedVersion }),
  doctorsList: () => call<Doctor[]>('doctors_list'),
  doctorAdd: (email: string, specialization: string) => call<Doctor>('doctor_add', { email, specialization }),
  demoSeed: () => call<DemoSummary>('demo_seed'),

  appointmentsDay: (date: string, doctorId: string | null) => call<DaySchedule>('appointments_day', { date, doctorId }),
  appointmentBook: (request: BookingRequest) => call<AppointmentChange>('appointment_book', { request }),
  appointmentReschedule: (id: string, request: RescheduleRequest) =>
    call<AppointmentChange>('appointment_reschedule', { id, request }),
  appointmentCancel: (id: string, reason: string, expectedVersion: number | null) =>
    call<AppointmentChange>('appointment_cancel', { id, reason, expectedVersion }),

  // A desk of a clinic server: joining one at first run; its sync state and the changes waiting
  // for the server or refused by it (null on a one-desk clinic).
  deskJoin: (serverUrl: string, credential: string, certificate: string | null) =>
    call<DeskIdentity>('desk_join', { serverUrl, credential, certificate }),
  deskStatus: () => call<DeskStatus | null>('desk_status'),
  deskDismiss: (clientId: string) => call<void>('desk_dismiss', { clientId }),

  // Appointment texts: each appointment's texts, the worklist of those that did not arrive, the
  // patient's answer about texts, and the texting rules (everyone reads them; admins change them).
  appointmentTexts: (id: string) => call<TextTimeline>('appointment_texts', { id }),
  textsNeedingAttention: () => call<AttentionItem[]>('texts_needing_attention'),
  textResend: (id: string) => call<TextMessage>('text_resend', { id }),
  textMarkHandled: (id: string) => call<void>('text_mark_handled', { id }),
  patientRecordConsent: (id: string, agreed: boolean) => call<Patient>('patient_record_consent', { id, agreed }),
  textingSettingsGet: () => call<TextingSettings>('texting_settings_get'),
  textingSettingsUpdate: (settings: TextingSettings) => call<TextingSettings>('texting_settings_update', { settings }),

  settingsGet: () => call<ClinicSettings>('settings_get'),
  /** Pass `confirmTimeZoneChange` only after showing the core's explanation of a time-zone change. */
  settingsUpdate: (settings: ClinicSettingsInput, confirmTimeZoneChange = false) =>
    call<ClinicSettings>('settings_update', { settings, confirmTimeZoneChange }),
  templatesList: () => call<Template[]>('templates_list'),
  templateSave: (name: TemplateName, body: string) => call<Template>('template_save', { name, body }),
  templateReset: (name: TemplateName) => call<Template>('template_reset', { name }),
  /** `body`: the editor's unsaved text (null: the saved template). A mistake in it is refused on `body`. */
  templatePreview: (name: TemplateName, body: string | null) => call<TemplatePreview>('template_preview', { name, body }),

  twilioOverview: () => call<TwilioOverview>('twilio_overview'),
  twilioConfigure: (settings: TwilioSettingsInput) => call<TwilioOverview>('twilio_configure', { settings }),
  twilioCheck: () => call<TwilioOverview>('twilio_check'),
  textsList: (status: TextState | null) => call<TextMessage[]>('texts_list', { status }),
  /** Texts patients sent that no rule handled, newest first. */
  inboxList: (unreadOnly: boolean) => call<IncomingText[]>('inbox_list', { unreadOnly }),
  /** For the top bar: inbox texts nobody has marked read. */
  inboxUnreadCount: () => call<number>('inbox_unread_count'),
  inboxMarkRead: (sid: string) => call<IncomingText>('inbox_mark_read', { sid }),

  // One patient's record and texting them from it (reception and admins send; the core checks the
  // patient's answer about texts and that texting is set up, and refuses with a sentence).
  /** The full record: `sms_consent_by` is the recorder's name here, and `phone_problem` is filled in. */
  patientGet: (id: string) => call<Patient>('patient_get', { id }),
  /** A quick text (`quick.*`) filled in for the patient, to edit before sending. */
  quickTextFor: (name: TemplateName, patient: string) => call<string>('quick_text_for', { name, patient }),
  /** Queued to the number on the patient's record. A mistake in the text is refused on `body`. */
  textSendToPatient: (patient: string, body: string) => call<TextMessage>('text_send_to_patient', { patient, body }),

  // Video consultations: the appointment's doctor starts, joins, chats, notes and ends; everyone who
  // sees the schedule sees the state. Refusals come back as the core's sentences.
  consultationStatus: (id: string) => call<ConsultationStatus>('consultation_status', { id }),
  consultationStates: (ids: string[]) => call<ConsultationBadge[]>('consultation_states', { ids }),
  consultationStart: (id: string) => call<ConsultationStatus>('consultation_start', { id }),
  /** Joins or rejoins the running consultation: the doctor's token for the room and the chat. */
  /** `inWindow`: the call runs in this window (a token that joins the room); otherwise a chat-only token. */
  consultationJoin: (id: string, inWindow: boolean) => call<ConsultationJoin>('consultation_join', { id, inWindow }),
  /** A fresh token for the chat (asked for on `tokenAboutToExpire`). */
  consultationChatToken: (id: string) => call<ConsultationToken>('consultation_chat_token', { id }),
  consultationEnd: (id: string) => call<ConsultationStatus>('consultation_end', { id }),
  consultationNote: (id: string, text: string) => call<ConsultationStatus>('consultation_note', { id, text }),
  consultationConsentToRecording: (id: string) =>
    call<ConsultationStatus>('consultation_consent_to_recording', { id }),
  consultationSetRecording: (id: string, on: boolean) =>
    call<ConsultationStatus>('consultation_set_recording', { id, on }),
  consultationMessages: (id: string) => call<ChatView>('consultation_messages', { id }),
  consultationSend: (id: string, body: string) => call<ChatLine>('consultation_send', { id, body }),
  consultationMarkRead: (id: string) => call<number | null>('consultation_mark_read', { id }),
  /** Where the window has no WebRTC: the call page opens in the system browser with a one-time link. */
  consultationOpenInBrowser: (id: string) => call<void>('consultation_open_in_browser', { id }),
  /** The state the browser's call page last reported (null before it reported). */
  consultationCallReport: (id: string) => call<CallReport | null>('consultation_call_report', { id }),
  /** The consultation's recordings (metadata only), for its doctor. */
  consultationRecordings: (id: string) => call<ConsultationRecording[]>('consultation_recordings', { id }),
  /** The clinic's chat replies (templates `chat.*`) filled in for this consultation. */
  /** Texts the patient a new link to the video consultation (the video invite template). */
  consultationInvite: (id: string) => call<TextMessage>('consultation_invite', { id }),
  /** Patients waiting on the call page now (a doctor's own; all for other staff). Polled: not activity. */
  consultationsWaiting: () => call<WaitingPatient[]>('consultations_waiting'),
  /** Past consultations' notes and chat with every word typed (the last as a word start). */
  consultationsSearch: (text: string) => call<SearchHit[]>('consultations_search', { text }),
  /** A page of past consultations, newest first (the core decides what each person sees). */
  consultationsList: (filter: ConsultationFilter) => call<ConsultationPage>('consultations_list', { filter }),
  /** One consultation's record, from the clinic database alone. */
  consultationRecord: (id: string) => call<ConsultationRecord>('consultation_record', { id }),
  /** Saves the record as a PDF or JSON file in the export folder (Downloads); audited. */
  consultationExport: (id: string, format: 'pdf' | 'json') => call<SavedExport>('consultation_export', { id, format }),
  /** The record is about to be printed (audited as an export). */
  consultationPrinted: (id: string) => call<void>('consultation_printed', { id }),
  /** Saves a chat attachment kept with the record into Downloads (its doctor or an administrator; audited). */
  consultationAttachmentSave: (id: string, mediaSid: string) =>
    call<SavedExport>('consultation_attachment_save', { id, mediaSid }),
  /** A kept picture from the chat, as its bytes (PNG, JPEG, GIF or WebP, checked by the core; audited). */
  consultationAttachmentPicture: (id: string, mediaSid: string) =>
    call<ArrayBuffer>('consultation_attachment_picture', { id, mediaSid }),
  /** How many days consultation chats are kept ('' keeps them); administrators. */
  consultationRetentionUpdate: (days: string) => call<VideoSettings>('consultation_retention_update', { days }),
  videoSettingsGet: () => call<VideoSettings>('video_settings_get'),
  videoSettingsUpdate: (callPageUrl: string) => call<VideoSettings>('video_settings_update', { callPageUrl }),
  consultationQuickReplies: (id: string) => call<string[]>('consultation_quick_replies', { id }),
  /** Publishes the patients' call page to the clinic's Twilio account; each step arrives on `onProgress`. */
  callPagePublish: (onProgress: (step: PublishProgress) => void) => {
    const channel = new Channel<PublishProgress>();
    channel.onmessage = onProgress;
    return call<PublishedPage>('call_page_publish', { onProgress: channel });
  },
};

export type Api = typeof api;
