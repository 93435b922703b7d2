-- 0008: patient search served by indexes (issue 7), so finding a patient by any part of the name or
-- the phone number stays instant at tens of thousands of patients.
--
-- * patient_search_keys gives each patient a stable integer key: the FTS rowid. patients.id is a TEXT
--   PRIMARY KEY, so patients.rowid may be renumbered by VACUUM; an INTEGER PRIMARY KEY never is.
-- * patient_search_fts (trigram, accents and case ignored): substrings of 3+ characters of the name
--   and of the phone's E.164 digits without '+'.
-- * patient_words_fts (words, accents and case ignored, prefix indexes for 1 to 3 characters): word
--   starts, so "sm" finds "John Smith", and "smi" reaches the Smiths without reading every
--   "Goldsmith" first.
-- * Both are contentless: the text lives once, in patients; the indexes keep no second copy of names
--   and numbers. contentless_delete lets the triggers remove and replace a patient's entry.
-- * The triggers keep all three in step with every write to patients, in the writer's own
--   transaction, whoever writes (the app, the CLI, the demo loader, or code not yet written).

CREATE TABLE patient_search_keys (
    key         INTEGER PRIMARY KEY,
    patient_id  TEXT NOT NULL UNIQUE
);

CREATE VIRTUAL TABLE patient_search_fts USING fts5(
    name, digits, content='', contentless_delete=1, tokenize='trigram remove_diacritics 1'
);

CREATE VIRTUAL TABLE patient_words_fts USING fts5(
    name, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2', prefix='1 2 3'
);

-- Existing patients, keyed in alphabetical order: a search that stops after its first few hundred
-- candidates (FTS yields them in key order) then sees names from the start of the alphabet.
INSERT INTO patient_search_keys (patient_id) SELECT id FROM patients ORDER BY full_name COLLATE NOCASE, id;
INSERT INTO patient_search_fts (rowid, name, digits)
    SELECT k.key, p.full_name, ltrim(p.phone_e164, '+') FROM patient_search_keys k JOIN patients p ON p.id = k.patient_id;
INSERT INTO patient_words_fts (rowid, name)
    SELECT k.key, p.full_name FROM patient_search_keys k JOIN patients p ON p.id = k.patient_id;

CREATE TRIGGER patients_search_insert AFTER INSERT ON patients BEGIN
    INSERT INTO patient_search_keys (patient_id) VALUES (NEW.id);
    INSERT INTO patient_search_fts (rowid, name, digits)
        VALUES ((SELECT key FROM patient_search_keys WHERE patient_id = NEW.id), NEW.full_name, ltrim(NEW.phone_e164, '+'));
    INSERT INTO patient_words_fts (rowid, name)
        VALUES ((SELECT key FROM patient_search_keys WHERE patient_id = NEW.id), NEW.full_name);
END;

CREATE TRIGGER patients_search_update AFTER UPDATE OF id, full_name, phone_e164 ON patients
WHEN OLD.id IS NOT NEW.id OR OLD.full_name IS NOT NEW.full_name OR OLD.phone_e164 IS NOT NEW.phone_e164 BEGIN
    UPDATE patient_search_keys SET patient_id = NEW.id WHERE patient_id = OLD.id;
    DELETE FROM patient_search_fts WHERE rowid = (SELECT key FROM patient_search_keys WHERE patient_id = NEW.id);
    DELETE FROM patient_words_fts WHERE rowid = (SELECT key FROM patient_search_keys WHERE patient_id = NEW.id);
    INSERT INTO patient_search_fts (rowid, name, digits)
        VALUES ((SELECT key FROM patient_search_keys WHERE patient_id = NEW.id), NEW.full_name, ltrim(NEW.phone_e164, '+'));
    INSERT INTO patient_words_fts (rowid, name)
        VALUES ((SELECT key FROM patient_search_keys WHERE patient_id = NEW.id), NEW.full_name);
END;

CREATE TRIGGER patients_search_delete AFTER DELETE ON patients BEGIN
    DELETE FROM patient_search_fts WHERE rowid = (SELECT key FROM patient_search_keys WHERE patient_id = OLD.id);
    DELETE FROM patient_words_fts WHERE rowid = (SELECT key FROM patient_search_keys WHERE patient_id = OLD.id);
    DELETE FROM patient_search_keys WHERE patient_id = OLD.id;
END;
