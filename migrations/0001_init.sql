-- 0001: staff, sessions, settings and the audit trail.
-- Instants are UTC RFC 3339 text ("2026-11-22T09:30:00Z"); ids are UUID text.

CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    email            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    full_name        TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('admin', 'reception', 'doctor')),
    password_hash    TEXT NOT NULL,           -- argon2id PHC string; never a password
    active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    failed_attempts  INTEGER NOT NULL DEFAULT 0,
    locked_until     TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

-- A signed-in staff session. The signed token names a row here, so signing out and idle time are
-- enforced by the core even if a token is still within its signature lifetime.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    channel       TEXT NOT NULL CHECK (channel IN ('app', 'cli')),
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    ended_at      TEXT,
    end_reason    TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Append-only: who did what to which record, and when. No patient data in `detail`, ids only.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    actor_id     TEXT,                        -- NULL for a failed sign-in by an unknown email
    actor_label  TEXT NOT NULL,               -- the email used, so failures are traceable
    action       TEXT NOT NULL,               -- e.g. 'auth.sign_in', 'patient.read'
    record_type  TEXT,
    record_id    TEXT,
    detail       TEXT
);
CREATE INDEX audit_log_record ON audit_log(record_type, record_id);
CREATE INDEX audit_log_at ON audit_log(at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
