-- The history of a consultation's notes after its end (issue 12; the rule is the core's
-- consultations/notes_rule.rs, as on a one-desk clinic): version 0 is the notes as they stood at
-- the end, each later version one sitting of amendments (who, when). Only the newest version is
-- ever brought up to date (its sitting goes on); an older one never changes, and none is removed.
-- Clinical content: the feed carries the whole history per consultation ("consultation_note_history")
-- only to the desks of its doctor and of administrators.
CREATE TABLE consultation_note_versions (
  appointment_id uuid NOT NULL REFERENCES appointments (id),
  version        bigint NOT NULL CHECK (version >= 0),
  text           text NOT NULL,
  saved_at       timestamptz NOT NULL,
  saved_by       uuid REFERENCES users (id),
  PRIMARY KEY (appointment_id, version)
);

CREATE FUNCTION consultation_note_versions_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.appointment_id <> OLD.appointment_id OR NEW.version <> OLD.version
     OR EXISTS (SELECT 1 FROM consultation_note_versions
                WHERE appointment_id = OLD.appointment_id AND version > OLD.version) THEN
    RAISE EXCEPTION 'an earlier version of a consultation''s notes is never changed';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER consultation_note_versions_kept BEFORE UPDATE OR DELETE ON consultation_note_versions
  FOR EACH ROW EXECUTE FUNCTION consultation_note_versions_kept();

GRANT SELECT, INSERT, UPDATE ON consultation_note_versions TO clinicdesk_writer;
