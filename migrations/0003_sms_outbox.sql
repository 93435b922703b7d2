-- 0003: the SMS outbox. A text is written here in the same transaction as whatever caused it, and
-- only the outbox worker talks to Twilio about it.

CREATE TABLE sms_notifications (
    id                 TEXT PRIMARY KEY,
    appointment_id     TEXT REFERENCES appointments(id),
    patient_id         TEXT REFERENCES patients(id),
    kind               TEXT NOT NULL CHECK (kind IN ('confirmation', 'cancellation', 'reschedule', 'reminder', 'invite', 'custom')),
    to_e164            TEXT NOT NULL,
    body               TEXT NOT NULL,
    segments           INTEGER NOT NULL,
    encoding           TEXT NOT NULL CHECK (encoding IN ('gsm7', 'ucs2')),
    idempotency_key    TEXT NOT NULL UNIQUE,   -- a second enqueue of the same text is a no-op
    state              TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'skipped')),
    twilio_sid         TEXT UNIQUE,            -- recorded before a text counts as sent
    twilio_status      TEXT,
    error_code         INTEGER,
    error_message      TEXT,                   -- a sentence for reception, never a stack trace
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    TEXT,
    attempt_started_at TEXT,                   -- committed before each send
    needs_reconcile    INTEGER NOT NULL DEFAULT 0 CHECK (needs_reconcile IN (0, 1)),
    polls              INTEGER NOT NULL DEFAULT 0,
    next_poll_at       TEXT,
    created_by         TEXT REFERENCES users(id),
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    sent_at            TEXT,
    final_at           TEXT
);
-- Partial indexes: only texts waiting to be sent or polled are indexed, so most state changes
-- touch one small B-tree instead of rewriting entries in two large ones.
CREATE INDEX sms_due ON sms_notifications(next_attempt_at, created_at) WHERE state = 'pending';
CREATE INDEX sms_poll ON sms_notifications(next_poll_at) WHERE state = 'sent';
CREATE INDEX sms_state ON sms_notifications(state, created_at);
CREATE INDEX sms_patient ON sms_notifications(patient_id);
CREATE INDEX sms_to ON sms_notifications(to_e164);

-- At most one outbox worker per database (the app and the CLI may both try). A holder whose
-- heartbeat stopped, or whose process is gone, has died: its 'sending' rows are reconciled.
CREATE TABLE outbox_lock (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    holder        TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    heartbeat_at  TEXT NOT NULL
);
