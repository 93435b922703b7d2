-- A desk of a clinic server keeps this database as its cache (issue 12; core/src/sync/).

-- Where this desk has read the clinic server's change feed up to, and similar small facts of the
-- link ('cursor'). One row per key; written in the same transaction as the changes it covers, so a
-- desk never skips a change and never applies one twice.
CREATE TABLE sync_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Staff whose password this desk has checked with the clinic server may sign in here while the
-- server cannot be reached, until this instant (14 days after their last online sign-in here).
-- NULL for everyone on a one-desk clinic, where the rule does not apply.
ALTER TABLE users ADD COLUMN offline_sign_in_until TEXT;

-- The double-booking backstop (0005) stands aside while this desk applies the server's changes:
-- the server's engine has already refused every overlap, and its feed comes in transaction order,
-- not commit order, so a moment between two changes can look like an overlap here (a move applied
-- before the cancellation that freed its slot; an upsert of a row that moved by a few minutes
-- meeting its own old self). sync/mod.rs sets 'applying' inside the applying transaction only, so
-- no other writer ever sees it.
DROP TRIGGER appointments_no_overlap_insert;
DROP TRIGGER appointments_no_overlap_update;

CREATE TRIGGER appointments_no_overlap_insert BEFORE INSERT ON appointments
WHEN NEW.status NOT IN ('cancelled', 'no_show')
 AND NOT EXISTS (SELECT 1 FROM sync_state WHERE key = 'applying')
BEGIN
    SELECT RAISE(ABORT, 'booking_overlap: doctor')
    WHERE EXISTS (
        SELECT 1 FROM appointments a INDEXED BY appointments_doctor_end
        WHERE a.doctor_id = NEW.doctor_id AND a.status NOT IN ('cancelled', 'no_show')
          AND a.starts_at < NEW.ends_at AND a.ends_at > NEW.starts_at
    );
    SELECT RAISE(ABORT, 'booking_overlap: patient')
    WHERE EXISTS (
        SELECT 1 FROM appointments a INDEXED BY appointments_patient_end
        WHERE a.patient_id = NEW.patient_id AND a.status NOT IN ('cancelled', 'no_show')
          AND a.starts_at < NEW.ends_at AND a.ends_at > NEW.starts_at
    );
END;

CREATE TRIGGER appointments_no_overlap_update
BEFORE UPDATE OF starts_at, ends_at, doctor_id, patient_id, status ON appointments
WHEN NEW.status NOT IN ('cancelled', 'no_show')
 AND (OLD.status IN ('cancelled', 'no_show')
      OR NEW.starts_at IS NOT OLD.starts_at OR NEW.ends_at IS NOT OLD.ends_at
      OR NEW.doctor_id IS NOT OLD.doctor_id OR NEW.patient_id IS NOT OLD.patient_id)
 AND NOT EXISTS (SELECT 1 FROM sync_state WHERE key = 'applying')
BEGIN
    SELECT RAISE(ABORT, 'booking_overlap: doctor')
    WHERE EXISTS (
        SELECT 1 FROM appointments a INDEXED BY appointments_doctor_end
        WHERE a.id <> OLD.id AND a.doctor_id = NEW.doctor_id AND a.status NOT IN ('cancelled', 'no_show')
          AND a.starts_at < NEW.ends_at AND a.ends_at > NEW.starts_at
    );
    SELECT RAISE(ABORT, 'booking_overlap: patient')
    WHERE EXISTS (
        SELECT 1 FROM appointments a INDEXED BY appointments_patient_end
        WHERE a.id <> OLD.id AND a.patient_id = NEW.patient_id AND a.status NOT IN ('cancelled', 'no_show')
          AND a.starts_at < NEW.ends_at AND a.ends_at > NEW.starts_at
    );
END;
