-- The clinic server's schema, version 1. Forward-only: a later change is a new file, never an edit
-- of this one (tests/schema.rs proves every upgrade path ends at the same schema as a fresh one).
--
-- Same words as the desk's SQLite schema (statuses, kinds, roles), so rows travel between the two
-- unchanged. Instants are timestamptz (UTC on the wire); ids are UUIDs made by whoever creates the row,
-- so a desk can name a row it booked offline before the server has seen it.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- The privileges the server works with. The database's owner (who runs these migrations) grants
-- them to clinicdesk_writer; the server logs in as a different role that is a member of it and owns
-- nothing, so no statement it runs (not even RESET ROLE) can reach the owner's rights: it may read
-- and append to the audit log but never change or remove an entry, nor disable the trigger below.
-- The role is created by a superuser beforehand (README); a superuser running this creates it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clinicdesk_writer') THEN
    CREATE ROLE clinicdesk_writer NOLOGIN;
  END IF;
END
$$;

CREATE TABLE users (
  id              uuid PRIMARY KEY,
  email           text NOT NULL,
  full_name       text NOT NULL,
  role            text NOT NULL CHECK (role IN ('admin', 'doctor', 'reception')),
  password_hash   text NOT NULL,
  active          boolean NOT NULL DEFAULT true,
  failed_attempts integer NOT NULL DEFAULT 0,
  locked_until    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  version         bigint NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE doctors (
  id             uuid PRIMARY KEY,
  user_id        uuid NOT NULL UNIQUE REFERENCES users (id),
  specialization text NOT NULL DEFAULT '',
  active         boolean NOT NULL DEFAULT true,
  version        bigint NOT NULL DEFAULT 1
);

CREATE TABLE patients (
  id            uuid PRIMARY KEY,
  full_name     text NOT NULL,
  phone         text,
  date_of_birth date,
  sms_consent   boolean NOT NULL DEFAULT false,
  opted_out_at  timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  version       bigint NOT NULL DEFAULT 1
);

CREATE TABLE appointments (
  id            uuid PRIMARY KEY,
  booking_ref   text NOT NULL UNIQUE,
  patient_id    uuid NOT NULL REFERENCES patients (id),
  doctor_id     uuid NOT NULL REFERENCES doctors (id),
  starts_at     timestamptz NOT NULL,
  ends_at       timestamptz NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('in_person', 'video')),
  status        text NOT NULL DEFAULT 'scheduled'
                CHECK (status IN ('scheduled', 'confirmed', 'checked_in', 'completed', 'no_show', 'cancelled')),
  cancel_reason text,
  created_by    uuid REFERENCES users (id),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  version       bigint NOT NULL DEFAULT 1,
  CHECK (ends_at > starts_at),
  -- No double booking, decided by the engine: two desks committing the same slot at once cannot
  -- both succeed, whatever the server's own check saw. Cancelled and no-show appointments no longer
  -- hold their slot (the core's INACTIVE_STATUSES). '[)' so back-to-back appointments are fine.
  CONSTRAINT appointments_doctor_free EXCLUDE USING gist
    (doctor_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (status NOT IN ('cancelled', 'no_show')),
  CONSTRAINT appointments_patient_free EXCLUDE USING gist
    (patient_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (status NOT IN ('cancelled', 'no_show'))
);
CREATE INDEX appointments_starts ON appointments (starts_at);

-- The SMS outbox, as on the desk, plus the generation of the sending worker that claimed a row:
-- results are written only while that generation still holds the lease (sender.rs).
CREATE TABLE sms_notifications (
  id                 uuid PRIMARY KEY,
  appointment_id     uuid REFERENCES appointments (id),
  kind               text NOT NULL,
  to_phone           text NOT NULL,
  body               text NOT NULL,
  idempotency_key    text NOT NULL UNIQUE,
  state              text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'skipped')),
  twilio_sid         text,
  error_code         integer,
  error_message      text,
  attempts           integer NOT NULL DEFAULT 0,
  next_attempt_at    timestamptz NOT NULL DEFAULT now(),
  claimed_generation bigint,
  attempt_started_at timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sms_notifications_due ON sms_notifications (next_attempt_at) WHERE state = 'pending';

-- The one sending worker's lease. Holding the advisory lock makes a process the sender; taking
-- it bumps `generation`, which fences off anything a previous holder still tries to write.
CREATE TABLE sender_lease (
  id         integer PRIMARY KEY CHECK (id = 1),
  generation bigint NOT NULL,
  holder     text NOT NULL,
  since      timestamptz NOT NULL
);
INSERT INTO sender_lease VALUES (1, 0, 'nobody', now());

-- What happened, who did it, to which record. Append-only: the trigger refuses any change or
-- removal (even by the table's owner) and clinicdesk_writer holds no UPDATE/DELETE/TRUNCATE.
CREATE TABLE audit_log (
  seq         bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  actor_id    uuid,
  actor_label text NOT NULL,
  action      text NOT NULL,
  record_type text,
  record_id   text,
  detail      text,
  -- The desk's own id for an entry written while it was offline, so a retried upload lands once.
  client_id   uuid UNIQUE
);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: entries are never changed or removed'
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- The sync feed: one row per changed record, in the transaction that changed it. `txid` is that
-- transaction's id; desks read only below the oldest transaction still running (changes.rs), so a
-- transaction that commits late is never jumped over by a cursor.
CREATE TABLE changes (
  seq       bigserial NOT NULL,
  txid      xid8 NOT NULL DEFAULT pg_current_xact_id(),
  entity    text NOT NULL,
  entity_id uuid NOT NULL,
  -- Who may receive it: 'all' (schedule, directory) or 'doctor:<doctor id>' (clinical content,
  -- for that doctor's desks and admins only).
  audience  text NOT NULL DEFAULT 'all',
  row_data  jsonb,
  PRIMARY KEY (txid, seq)
);

-- Commands from desks, by the desk's client id: a command retried after a lost answer is answered
-- from here instead of being applied twice.
CREATE TABLE desk_commands (
  client_id   uuid PRIMARY KEY,
  desk_id     uuid NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  outcome     jsonb NOT NULL
);

CREATE TABLE settings (
  key   text PRIMARY KEY,
  value text NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON users, doctors, patients, appointments, sms_notifications,
  sender_lease, changes, desk_commands, settings TO clinicdesk_writer;
GRANT SELECT, INSERT ON audit_log TO clinicdesk_writer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO clinicdesk_writer;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC, clinicdesk_writer;
