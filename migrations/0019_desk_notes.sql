-- A doctor's consultation notes written on a desk of a clinic server go to the server like any other
-- change (issue 12; core/src/sync/pending.rs, entity 'consultation_notes'), and come back from its
-- feed to the desks allowed to read them. The server's version of the notes this desk last applied:
-- an older copy arriving later never replaces a newer one. NULL on a one-desk clinic.
ALTER TABLE consultations ADD COLUMN notes_version INTEGER;
