-- Texts reach the desks (issue 12): reception sees on any desk whether a patient's text went, was
-- delivered, or failed and why, as on one desk. Every new text and every change a person would
-- see (state, the reason, Twilio's id, attempts) is published to the feed by this trigger, in the
-- same transaction, whatever code path made it (queue, reminders, links, the sender, withdrawals),
-- and only the latest row per text is kept there. The link of a video invite travels without its
-- key (as staff see it on one desk: everything after "#t=" in a web address is cut), so no desk
-- ever holds a patient's working token.
CREATE FUNCTION texts_to_desks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM changes WHERE entity = 'text' AND entity_id = NEW.id;
  INSERT INTO changes (entity, entity_id, audience, row_data) VALUES ('text', NEW.id, 'all', jsonb_build_object(
    'id', NEW.id, 'appointment_id', NEW.appointment_id, 'patient_id', NEW.patient_id, 'kind', NEW.kind,
    'to', NEW.to_phone, 'body', regexp_replace(NEW.body, '(://[^[:space:]#]*)#t=[^[:space:]]*', '\1#…', 'g'),
    'idempotency_key', NEW.idempotency_key, 'state', NEW.state, 'twilio_sid', NEW.twilio_sid,
    'error_code', NEW.error_code, 'error_message', NEW.error_message, 'attempts', NEW.attempts,
    'created_at', NEW.created_at, 'updated_at', NEW.updated_at));
  RETURN NEW;
END $$;
CREATE TRIGGER sms_notifications_to_desks_insert AFTER INSERT ON sms_notifications
  FOR EACH ROW EXECUTE FUNCTION texts_to_desks();
CREATE TRIGGER sms_notifications_to_desks_update AFTER UPDATE ON sms_notifications
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.error_message IS DISTINCT FROM NEW.error_message
                     OR OLD.twilio_sid IS DISTINCT FROM NEW.twilio_sid OR OLD.attempts IS DISTINCT FROM NEW.attempts)
  EXECUTE FUNCTION texts_to_desks();
-- The texts of the last 60 days, for desks already joined (later ones arrive by the trigger).
INSERT INTO changes (entity, entity_id, audience, row_data)
SELECT 'text', id, 'all', jsonb_build_object(
    'id', id, 'appointment_id', appointment_id, 'patient_id', patient_id, 'kind', kind,
    'to', to_phone, 'body', regexp_replace(body, '(://[^[:space:]#]*)#t=[^[:space:]]*', '\1#…', 'g'),
    'idempotency_key', idempotency_key, 'state', state, 'twilio_sid', twilio_sid,
    'error_code', error_code, 'error_message', error_message, 'attempts', attempts,
    'created_at', created_at, 'updated_at', updated_at)
FROM sms_notifications WHERE created_at > now() - interval '60 days' ORDER BY created_at;
