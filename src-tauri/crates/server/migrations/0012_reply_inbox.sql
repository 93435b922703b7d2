-- Patients' replies as on one desk (issue 12; replies.rs): "C" or "YES" confirms the appointment
-- the last reminder was about (YES also lets texts go again, as Twilio takes it), anything that
-- is not a keyword waits in the inbox for reception, on every desk, until someone marks it read.
-- A reply's `handling` uses the core's words (confirmed, opted_out, opted_in, help, inbox).
UPDATE sms_inbound SET handling = CASE handling WHEN 'opt_out' THEN 'opted_out' WHEN 'opt_in' THEN 'opted_in' ELSE handling END;
ALTER TABLE sms_inbound
  -- The feed's key (a change names its row by uuid; Twilio's SID stays the reply's identity).
  ADD COLUMN id             uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  ADD COLUMN patient_id     uuid REFERENCES patients (id),
  ADD COLUMN appointment_id uuid REFERENCES appointments (id),
  ADD COLUMN read_at        timestamptz,
  ADD COLUMN read_by        uuid REFERENCES users (id),
  ADD CONSTRAINT sms_inbound_handling CHECK (handling IN ('confirmed', 'opted_out', 'opted_in', 'help', 'inbox'));
CREATE INDEX sms_inbound_unread ON sms_inbound (received_at) WHERE handling IN ('inbox', 'opted_out') AND read_at IS NULL;
-- Replies kept before: tied to the patient the clinic texted last at that number, else the first
-- added (replies.rs, patient_for), so reception sees who wrote.
UPDATE sms_inbound i SET patient_id = (
  SELECT p.id FROM patients p WHERE p.phone = i.from_phone
  ORDER BY (SELECT max(n.created_at) FROM sms_notifications n WHERE n.patient_id = p.id AND n.to_phone = i.from_phone) DESC NULLS LAST,
           p.created_at, p.id
  LIMIT 1);

-- When a text went to Twilio: a reply answers the reminder sent last before it.
ALTER TABLE sms_notifications ADD COLUMN sent_at timestamptz;
-- (Texts sent before: the earliest time known for it; delivery checks moved updated_at later.)
UPDATE sms_notifications SET sent_at = least(updated_at, next_attempt_at) WHERE twilio_sid IS NOT NULL;
CREATE INDEX sms_notifications_reminders_to ON sms_notifications (to_phone, sent_at) WHERE kind = 'reminder';

-- Every reply, as it is recorded and as it is marked read, reaches every desk (reception's
-- inbox; a patient's text is read with the patient's details, which every desk holds), by this
-- trigger in the same transaction; only the latest row per reply is kept in the feed.
CREATE FUNCTION reply_for_desks(r sms_inbound) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'sid', r.sid, 'from', r.from_phone, 'to', r.to_phone, 'body', r.body, 'received_at', r.received_at,
    'patient_id', r.patient_id, 'appointment_id', r.appointment_id, 'handling', r.handling,
    'read_at', r.read_at, 'read_by', r.read_by, 'recorded_at', r.created_at)
$$;

CREATE FUNCTION replies_to_desks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    DELETE FROM changes WHERE entity = 'text_reply' AND entity_id = NEW.id;
  END IF;
  INSERT INTO changes (entity, entity_id, audience, row_data) VALUES ('text_reply', NEW.id, 'all', reply_for_desks(NEW));
  RETURN NEW;
END $$;
CREATE TRIGGER sms_inbound_to_desks_insert AFTER INSERT ON sms_inbound
  FOR EACH ROW EXECUTE FUNCTION replies_to_desks();
CREATE TRIGGER sms_inbound_to_desks_update AFTER UPDATE ON sms_inbound
  FOR EACH ROW WHEN (OLD.read_at IS DISTINCT FROM NEW.read_at OR OLD.handling IS DISTINCT FROM NEW.handling
                     OR OLD.patient_id IS DISTINCT FROM NEW.patient_id)
  EXECUTE FUNCTION replies_to_desks();

-- The replies of the last 60 days, for desks already joined.
INSERT INTO changes (entity, entity_id, audience, row_data)
SELECT 'text_reply', r.id, 'all', reply_for_desks(r) FROM sms_inbound r
WHERE r.received_at > now() - interval '60 days' ORDER BY r.received_at;
