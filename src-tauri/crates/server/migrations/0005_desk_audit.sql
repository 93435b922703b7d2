-- The database a desk's audit entries come from (issue 12; audit.rs, `from_desk`): bound at its
-- first upload, so no other desk (or a desk re-joined from another database) can write in its name.
ALTER TABLE desks ADD COLUMN audit_source uuid UNIQUE;
