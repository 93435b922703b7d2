-- Texts patients sent to the clinic's number, read from Twilio by the server's sender (issue 12):
-- each kept once by its SID, so a reply listed again by an overlapping read does nothing twice.
-- STOP and START change the patient's opt-out at once; other replies wait here for reception.
CREATE TABLE sms_inbound (
  sid         text PRIMARY KEY,
  from_phone  text NOT NULL,
  to_phone    text NOT NULL,
  body        text NOT NULL,
  received_at timestamptz NOT NULL,
  handling    text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sms_inbound_received ON sms_inbound (received_at);
GRANT SELECT, INSERT, UPDATE ON sms_inbound TO clinicdesk_writer;
