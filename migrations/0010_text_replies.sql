-- 0010: texts patients send back. A desktop gets no Twilio webhooks, so the outbox worker reads
-- them from the Messages list; a message may be listed many times (overlapping reads, paging),
-- and is recorded once, by its Twilio SID.

CREATE TABLE sms_inbound (
    sid             TEXT PRIMARY KEY,                       -- Twilio's SM.../MM...
    from_e164       TEXT NOT NULL,
    to_e164         TEXT NOT NULL,                          -- the clinic's number it was sent to
    body            TEXT NOT NULL,
    received_at     TEXT NOT NULL,                          -- Twilio's date_sent (Twilio's clock)
    patient_id      TEXT REFERENCES patients(id),           -- NULL: no patient has that number
    appointment_id  TEXT REFERENCES appointments(id),       -- the appointment a C/YES confirmed
    -- What ClinicDesk did with it. Only 'inbox' texts wait for a person to read them.
    handling        TEXT NOT NULL CHECK (handling IN ('confirmed', 'opted_out', 'opted_in', 'help', 'inbox')),
    read_at         TEXT,
    read_by         TEXT REFERENCES users(id),
    recorded_at     TEXT NOT NULL
);
CREATE INDEX sms_inbound_inbox ON sms_inbound(received_at) WHERE handling = 'inbox';
CREATE INDEX sms_inbound_unread ON sms_inbound(received_at) WHERE handling = 'inbox' AND read_at IS NULL;
CREATE INDEX sms_inbound_patient ON sms_inbound(patient_id, received_at) WHERE patient_id IS NOT NULL;

-- How far replies to each of the clinic's numbers have been read.
CREATE TABLE sms_reply_marks (
    number          TEXT PRIMARY KEY,
    newest_sent_at  TEXT,             -- the newest reply recorded (Twilio's clock); reads go back from it
    read_at         TEXT NOT NULL     -- this computer's clock: the last read (or attempt)
);
