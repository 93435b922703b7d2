-- 0009: texts driven by appointments (confirmation, reschedule, cancellation, reminders), consent
-- with its provenance, and reception's follow-up of texts that did not arrive.

-- The appointment time a text speaks of. A confirmation, reschedule or reminder whose appointment
-- has since moved (or was cancelled) no longer matches and is withdrawn at send time, never sent.
ALTER TABLE sms_notifications ADD COLUMN about_starts_at TEXT;
-- The earliest appointment time the text is news about (for a move, the old time if sooner): in
-- quiet hours a text waits for the morning only if this comes after the morning.
ALTER TABLE sms_notifications ADD COLUMN news_before TEXT;
-- For reminders: the rule that made it ('24h', '2h'), shown to staff and used to collapse late ones.
ALTER TABLE sms_notifications ADD COLUMN reminder_rule TEXT;
-- Reception marked a failed or skipped text as dealt with (phoned the patient, for example).
ALTER TABLE sms_notifications ADD COLUMN handled_at TEXT;
ALTER TABLE sms_notifications ADD COLUMN handled_by TEXT REFERENCES users(id);
CREATE INDEX sms_appointment ON sms_notifications(appointment_id, created_at) WHERE appointment_id IS NOT NULL;

-- Who recorded the patient's agreement to texts (or its withdrawal), and when.
ALTER TABLE patients ADD COLUMN sms_consent_at TEXT;
ALTER TABLE patients ADD COLUMN sms_consent_by TEXT REFERENCES users(id);
-- Set when Twilio refused the number as not a mobile (21614) or unreachable: reception corrects it.
ALTER TABLE patients ADD COLUMN phone_problem TEXT;

-- The reminder planner's high-water mark: reminders falling due up to here are in the outbox.
CREATE TABLE reminder_plan (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    planned_until  TEXT NOT NULL
);
