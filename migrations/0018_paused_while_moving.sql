-- While a one-desk clinic moves onto a clinic server (issue 12; core/src/sync/migration.rs) its
-- records are read out once and sent; a change made after that read-out would be missing on the
-- server. The core refuses changes when it sees the folder's mark (`clinic.moved_to`, also kept
-- once the move finished), but it looks when a request begins: a change already past that look
-- when the mark was written could still commit after it. These triggers make the mark final in the
-- file itself. Writes take turns on the file's lock, so a change either committed before the mark
-- (and is read out) or is refused here ('clinic_moved', put into words by the core's error.rs).
-- Patients, appointments, new texts, doctors and who the staff are (an account's name, email, role,
-- being active: what the move reads out); sign-in (its counts, a rehashed password), sessions, the
-- audit trail and the mark itself go on (the move's own steps write them). The triggers stay once
-- the move finished: a later data migration that rewrites these tables must allow for a moved folder.
CREATE TRIGGER patients_paused_by_move_insert BEFORE INSERT ON patients
  WHEN EXISTS (SELECT 1 FROM settings WHERE key = 'clinic.moved_to')
  BEGIN SELECT RAISE(ABORT, 'clinic_moved'); END;
CREATE TRIGGER patients_paused_by_move_update BEFORE UPDATE ON patients
  WHEN EXISTS (SELECT 1 FROM settings WHERE key = 'clinic.moved_to')
  BEGIN SELECT RAISE(ABORT, 'clinic_moved'); END;
CREATE TRIGGER patients_paused_by_move_delete BEFORE DELETE ON patients
  WHEN EXISTS (SELECT 1 FROM settings WHERE key = 'clinic.moved_to')
  BEGIN SELECT RAISE(ABORT, 'clinic_moved'); END;
CREATE TRIGGER appointments_paused_by_move_insert BEFORE INSERT ON appointments
  WHEN EXISTS (SELECT 1 FROM settings WHERE key = 'clinic.moved_to')
  BEGIN SELECT RAISE(ABORT, 'clinic_moved'); END;
CREATE TRIGGER appointments_paused_by_move_update BEFORE UPDATE ON appointments
  WHEN EXISTS (SELECT 1 FROM settings WHERE key = 'clinic.moved_to')
  BEGIN SELECT RAISE(ABORT, 'clinic_moved'); END;
CREATE TRIGGER appointments_paused_by_move_delete BEFORE DELETE ON appointments
  WHEN EXISTS (SELECT 1 FROM settings WHERE key = 'clinic.moved_to')
  BEGIN SELECT RAISE(ABORT, 'clinic_moved'); END;
CREATE TRIGGER sms_notifications_paused_by_move_insert BEFORE INSERT ON sms_notifications
  WHEN EXISTS (SELECT 1 FROM settings WHERE key = 'clinic.moved_to')
  BEGIN SELECT RAISE(ABORT, 'clinic_moved'); END;
CREATE TRIGGER doctors_paused_by_move_insert BEFORE INSERT ON doctors
  WHEN EXISTS (SELECT 1 FROM settings WHERE key = 'clinic.moved_to')
  BEGIN SELECT RAISE(ABORT, 'clinic_moved'); END;
CREATE TRIGGER doctors_paused_by_move_update BEFORE UPDATE ON doctors
  WHEN EXISTS (SELECT 1 FROM settings WHERE key = 'clinic.moved_to')
  BEGIN SELECT RAISE(ABORT, 'clinic_moved'); END;
CREATE TRIGGER doctors_paused_by_move_delete BEFORE DELETE ON doctors
  WHEN EXISTS (SELECT 1 FROM settings WHERE key = 'clinic.moved_to')
  BEGIN SELECT RAISE(ABORT, 'clinic_moved'); END;
CREATE TRIGGER users_paused_by_move_insert BEFORE INSERT ON users
  WHEN EXISTS (SELECT 1 FROM settings WHERE key = 'clinic.moved_to')
  BEGIN SELECT RAISE(ABORT, 'clinic_moved'); END;
CREATE TRIGGER users_paused_by_move_update BEFORE UPDATE OF email, full_name, role, active ON users
  WHEN EXISTS (SELECT 1 FROM settings WHERE key = 'clinic.moved_to')
  BEGIN SELECT RAISE(ABORT, 'clinic_moved'); END;
