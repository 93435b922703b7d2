-- 0006: a screen that shows patient data is audited as one entry, not one entry per patient.
-- The entry (action 'patient.read') names the screen in `detail` and carries the patients it
-- showed in `patients`: their ids as 16-byte UUIDs, sorted, concatenated (640 patients = 10 KB,
-- where one entry per patient took about 170 KB).
ALTER TABLE audit_log ADD COLUMN patients BLOB;

-- "Who saw this patient, and when": every entry about a patient, keyed by the patient, newest
-- last, so a patient's trail is one index range read whatever the size of the trail. The id is
-- the UUID's 16 bytes (not its 36-character text): this index gets a row per patient per screen.
-- Entries about one patient's record (created, changed, booked) are linked as they are written;
-- screen reads are linked shortly after, in the background (core/src/audit/reads.rs).
CREATE TABLE audit_patients (
    patient_id  BLOB NOT NULL,
    audit_id    INTEGER NOT NULL REFERENCES audit_log(id),
    PRIMARY KEY (patient_id, audit_id)
) WITHOUT ROWID;

CREATE TRIGGER audit_patients_no_update BEFORE UPDATE ON audit_patients
BEGIN SELECT RAISE(ABORT, 'audit_patients is append-only'); END;
CREATE TRIGGER audit_patients_no_delete BEFORE DELETE ON audit_patients
BEGIN SELECT RAISE(ABORT, 'audit_patients is append-only'); END;

-- Every entry up to this id has been linked (bookkeeping, not part of the record).
CREATE TABLE audit_index_mark (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_through  INTEGER NOT NULL
);
INSERT INTO audit_index_mark (id, indexed_through) VALUES (1, coalesce((SELECT max(id) FROM audit_log), 0));

-- Earlier entries about a patient: those that name the patient as their record (every read and
-- change before this version), and the appointment entries whose detail starts 'patient <uuid>'.
INSERT OR IGNORE INTO audit_patients (patient_id, audit_id)
SELECT unhex(replace(record_id, '-', '')), id FROM audit_log
WHERE record_type = 'patient' AND unhex(replace(record_id, '-', '')) IS NOT NULL;
INSERT OR IGNORE INTO audit_patients (patient_id, audit_id)
SELECT unhex(replace(substr(detail, 9, 36), '-', '')), id FROM audit_log
WHERE action LIKE 'appointment.%' AND detail LIKE 'patient ________-____-____-____-____________%'
  AND unhex(replace(substr(detail, 9, 36), '-', '')) IS NOT NULL;

-- The audit screen filters by any record id (a user, an appointment): an index that serves
-- record_id alone, newest first. The old (record_type, record_id) index served no query.
CREATE INDEX audit_log_record_id ON audit_log(record_id, id);
DROP INDEX audit_log_record;
