-- Texts the clinic server sends (issue 12): what each text is about, so a text still waiting when
-- its appointment has begun is not sent late, and a send whose outcome is unknown (Twilio took
-- the request but the answer was lost) is reconciled with Twilio before it is ever sent again.
ALTER TABLE sms_notifications ADD COLUMN patient_id uuid REFERENCES patients (id);
ALTER TABLE sms_notifications ADD COLUMN about_starts_at timestamptz;
ALTER TABLE sms_notifications ADD COLUMN needs_reconcile boolean NOT NULL DEFAULT false;
CREATE INDEX sms_notifications_appointment ON sms_notifications (appointment_id);
