-- 0002: patients, doctors and appointments.

CREATE TABLE patients (
    id             TEXT PRIMARY KEY,
    full_name      TEXT NOT NULL,
    phone_e164     TEXT NOT NULL,             -- normalised with the clinic's default country
    date_of_birth  TEXT,                      -- YYYY-MM-DD
    sms_consent    INTEGER NOT NULL DEFAULT 0 CHECK (sms_consent IN (0, 1)),
    opted_out_at   TEXT,                      -- set when the patient replied STOP
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX patients_phone ON patients(phone_e164);
CREATE INDEX patients_name ON patients(full_name COLLATE NOCASE);

CREATE TABLE doctors (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL UNIQUE REFERENCES users(id),
    specialization  TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at      TEXT NOT NULL
);

CREATE TABLE appointments (
    id             TEXT PRIMARY KEY,
    booking_ref    TEXT NOT NULL UNIQUE,      -- short code read out over the phone
    patient_id     TEXT NOT NULL REFERENCES patients(id),
    doctor_id      TEXT NOT NULL REFERENCES doctors(id),
    starts_at      TEXT NOT NULL,
    ends_at        TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('in_person', 'video')),
    status         TEXT NOT NULL CHECK (status IN ('scheduled', 'confirmed', 'checked_in', 'completed', 'no_show', 'cancelled')),
    cancel_reason  TEXT,
    cancelled_at   TEXT,
    version        INTEGER NOT NULL DEFAULT 1, -- bumped on every change; stale edits are refused
    created_by     TEXT REFERENCES users(id),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX appointments_doctor_time ON appointments(doctor_id, starts_at);
CREATE INDEX appointments_patient_time ON appointments(patient_id, starts_at);
CREATE INDEX appointments_time ON appointments(starts_at);
