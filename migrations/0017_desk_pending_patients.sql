-- Patients' changes on a desk of a clinic server get the same care as appointments' (issue 12;
-- core/src/sync/pending.rs): a version, so an edit made on a stale copy (offline, while another
-- desk changed the patient) is refused by the server instead of overwriting it, and the mark of
-- the pending change that last wrote the row here, so a refusal can put the row back and any row
-- from the server replaces a provisional one. On a one-desk clinic both stay as they are (1, NULL).
ALTER TABLE patients ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE patients ADD COLUMN provisional TEXT;
