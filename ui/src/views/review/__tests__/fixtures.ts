// Past consultations as the core answers them, for the review screen's tests.
import type { ConsultationRecord } from '$lib/platform/bindings/ConsultationRecord';
import type { ConsultationSummary } from '$lib/platform/bindings/ConsultationSummary';
import type { StaffProfile } from '$lib/platform/bindings/StaffProfile';

export const doctor: StaffProfile = { user_id: 'u-okafor', email: 'amara@clinic.example', full_name: 'Dr Amara Okafor', role: 'doctor', idle_timeout_minutes: 15 };
export const reception: StaffProfile = { user_id: 'u-rita', email: 'rita@clinic.example', full_name: 'Rita Desk', role: 'reception', idle_timeout_minutes: 15 };

/** The clinic is in New York: 14:00 UTC reads 09:00 (EST, before the clocks change). */
export const settings = () => ({ clinic_name: 'Riverside', time_zone: 'America/New_York', default_country: 'US', idle_timeout_minutes: 15, sms_messages_per_second: 1 });
export const doctors = () => [
  { id: 'd-okafor', user_id: 'u-okafor', full_name: 'Dr Amara Okafor', email: 'amara@clinic.example', specialization: 'GP', active: true },
  { id: 'd-lee', user_id: 'u-lee', full_name: 'Dr Sam Lee', email: 'sam@clinic.example', specialization: 'GP', active: true },
];

export const summary = (id: string, patient_name: string, over: Partial<ConsultationSummary> = {}): ConsultationSummary => ({
  appointment_id: id, starts_at: '2026-03-02T14:00:00Z', patient_id: `p-${id}`, patient_name, doctor_name: 'Dr Amara Okafor',
  state: 'completed', started_at: '2026-03-02T14:01:00Z', ended_at: '2026-03-02T14:13:05Z', full: true, has_notes: true,
  chat_messages: 3, record_pending: false, ...over,
});

export const record = (over: Partial<ConsultationRecord> = {}): ConsultationRecord => ({
  appointment_id: 'a1', booking_ref: 'CD-7KQ2XM', starts_at: '2026-03-02T14:00:00Z', ends_at: '2026-03-02T14:30:00Z',
  patient_id: 'p1', patient_name: 'Olivia Smith', doctor_name: 'Dr Amara Okafor', state: 'completed',
  started_at: '2026-03-02T14:01:00Z', ended_at: '2026-03-02T14:16:00Z', full: true,
  notes: 'Rash better.\nContinue cream for a week.',
  note_versions: [
    { version: 0, text: 'Rash better.', saved_at: '2026-03-02T14:16:00Z', saved_by: 'Dr Amara Okafor' },
    { version: 1, text: 'Rash better.\nContinue cream for a week.', saved_at: '2026-03-03T15:00:00Z', saved_by: 'Dr Amara Okafor' },
  ],
  attendance: [{ role: 'doctor', connections: 1, seconds: 900 }, { role: 'patient', connections: 2, seconds: 600 }],
  recording_consent_at: '2026-03-02T14:03:00Z', record_pending: false, chat_removed_at: null,
  timeline: [
    { kind: 'text', at: '2026-03-01T14:00:00Z', text_id: 't1', text_kind: 'invite', state: 'delivered', body: 'Your video link: https://clinic.example/v/1', final_at: '2026-03-01T14:00:05Z', error: null },
    { kind: 'text', at: '2026-03-02T13:00:00Z', text_id: 't2', text_kind: 'reminder', state: 'failed', body: 'Reminder: video at 09:00', final_at: null, error: 'The number is not a mobile.' },
    { kind: 'waiting', at: '2026-03-02T13:58:00Z', device_check: 'camera_off' },
    { kind: 'started', at: '2026-03-02T14:01:00Z', by: 'Dr Amara Okafor' },
    { kind: 'joined', at: '2026-03-02T14:01:02Z', role: 'doctor' },
    { kind: 'message', at: '2026-03-02T14:02:00Z', index: 0, author: 'patient', body: 'Hello doctor', media: [] },
    { kind: 'message', at: '2026-03-02T14:02:30Z', index: 1, author: 'doctor', body: 'Hello Olivia, how is the rash?', media: [] },
    { kind: 'recording_consent', at: '2026-03-02T14:03:00Z', by: 'Dr Amara Okafor' },
    { kind: 'recording', at: '2026-03-02T14:03:10Z', on: true, by: 'Dr Amara Okafor' },
    { kind: 'left', at: '2026-03-02T14:12:00Z', role: 'patient', seconds: 600 },
    { kind: 'ended', at: '2026-03-02T14:16:00Z', by: 'Dr Amara Okafor' },
    { kind: 'notes_amended', at: '2026-03-03T15:00:00Z', version: 1, by: 'Dr Amara Okafor' },
  ],
  ...over,
});
