-- A registration looks up the patients already registered with the number (one registration per
-- name and number), and a reply from a patient is matched by its number: both by this index.
CREATE INDEX patients_phone ON patients (phone);
