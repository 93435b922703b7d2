-- The earliest moment a text about a change matters to the patient (a move: the old time, if it
-- came first). Quiet hours hold a text only until a morning before this, on the desk and here.
ALTER TABLE sms_notifications ADD COLUMN news_before timestamptz;
