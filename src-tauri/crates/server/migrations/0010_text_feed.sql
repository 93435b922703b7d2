-- Texts reach the desks (issue 12): reception sees on any desk whether a patient's text went, was
-- delivered, or failed and why, as on one desk. Every new text and every change a person would
-- see (state, the reason, Twilio's id, attempts, when it is due, whether it may have gone) is
-- published to the feed by this trigger, in the same transaction, whatever code path made it
-- (queue, reminders, links, the sender, withdrawals), and only the latest row per text is kept
-- there. A video link travels without its key: everything from "#t=" to the end of the word is cut
-- (as staff see it on one desk), so no desk ever holds a patient's working token.
-- How many segments a text takes, and how it is encoded, counted when it is queued (the desks'
-- copy of an invite has its key cut, so they cannot count it themselves).
ALTER TABLE sms_notifications ADD COLUMN segments integer;
ALTER TABLE sms_notifications ADD COLUMN encoding text CHECK (encoding IN ('gsm7', 'ucs2'));
-- The trigger replaces a text's earlier feed row: found by this index, not by reading the feed.
CREATE INDEX changes_entity ON changes (entity, entity_id);

CREATE FUNCTION text_for_desks(t sms_notifications) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'id', t.id, 'appointment_id', t.appointment_id, 'patient_id', t.patient_id, 'kind', t.kind,
    'to', t.to_phone, 'body', regexp_replace(t.body, '#t=[^[:space:]]*', '#…', 'g'),
    'segments', t.segments, 'encoding', t.encoding,
    'idempotency_key', t.idempotency_key, 'state', t.state, 'twilio_sid', t.twilio_sid,
    'error_code', t.error_code, 'error_message', t.error_message, 'attempts', t.attempts,
    'next_attempt_at', t.next_attempt_at, 'about_starts_at', t.about_starts_at,
    'needs_reconcile', t.needs_reconcile, 'created_at', t.created_at, 'updated_at', t.updated_at)
$$;

CREATE FUNCTION texts_to_desks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    DELETE FROM changes WHERE entity = 'text' AND entity_id = NEW.id;
  END IF;
  INSERT INTO changes (entity, entity_id, audience, row_data) VALUES ('text', NEW.id, 'all', text_for_desks(NEW));
  RETURN NEW;
END $$;
CREATE TRIGGER sms_notifications_to_desks_insert AFTER INSERT ON sms_notifications
  FOR EACH ROW EXECUTE FUNCTION texts_to_desks();
CREATE TRIGGER sms_notifications_to_desks_update AFTER UPDATE ON sms_notifications
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.error_message IS DISTINCT FROM NEW.error_message
                     OR OLD.twilio_sid IS DISTINCT FROM NEW.twilio_sid OR OLD.attempts IS DISTINCT FROM NEW.attempts
                     OR OLD.next_attempt_at IS DISTINCT FROM NEW.next_attempt_at
                     OR OLD.needs_reconcile IS DISTINCT FROM NEW.needs_reconcile)
  EXECUTE FUNCTION texts_to_desks();

-- The texts of the last 60 days, for desks already joined (later ones arrive by the trigger).
INSERT INTO changes (entity, entity_id, audience, row_data)
SELECT 'text', t.id, 'all', text_for_desks(t) FROM sms_notifications t
WHERE t.created_at > now() - interval '60 days' ORDER BY t.created_at;
