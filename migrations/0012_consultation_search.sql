-- 0012: full-text search over what was said and written in consultations (issue 11): the doctor's
-- notes and the chat kept at the end, found by word or word start, accents and case ignored.
--
-- * consultation_text_keys gives each searchable text a stable integer key, the FTS rowid:
--   (appointment, message index) for a chat message, (appointment, -1) for the notes. chat_messages
--   is written with INSERT OR REPLACE, which removes the old row without firing delete triggers, so
--   the insert trigger itself replaces the text under the same key.
-- * consultation_text_fts keeps the text (for snippets with the matching words); the database is
--   encrypted as a whole, so this second copy is too.
-- * Triggers keep both in step with every write, in the writer's own transaction.

CREATE TABLE consultation_text_keys (
    key             INTEGER PRIMARY KEY,
    appointment_id  TEXT NOT NULL,
    message_index   INTEGER NOT NULL,   -- -1: the notes
    UNIQUE (appointment_id, message_index)
);

CREATE VIRTUAL TABLE consultation_text_fts USING fts5(
    body, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);

INSERT INTO consultation_text_keys (appointment_id, message_index)
    SELECT appointment_id, message_index FROM chat_messages WHERE coalesce(body, '') <> '';
INSERT INTO consultation_text_keys (appointment_id, message_index)
    SELECT appointment_id, -1 FROM consultations WHERE notes <> '';
INSERT INTO consultation_text_fts (rowid, body)
    SELECT k.key, m.body FROM consultation_text_keys k
    JOIN chat_messages m ON m.appointment_id = k.appointment_id AND m.message_index = k.message_index;
INSERT INTO consultation_text_fts (rowid, body)
    SELECT k.key, c.notes FROM consultation_text_keys k
    JOIN consultations c ON c.appointment_id = k.appointment_id AND k.message_index = -1;

CREATE TRIGGER chat_messages_search_insert AFTER INSERT ON chat_messages BEGIN
    INSERT OR IGNORE INTO consultation_text_keys (appointment_id, message_index) VALUES (NEW.appointment_id, NEW.message_index);
    DELETE FROM consultation_text_fts WHERE rowid =
        (SELECT key FROM consultation_text_keys WHERE appointment_id = NEW.appointment_id AND message_index = NEW.message_index);
    INSERT INTO consultation_text_fts (rowid, body)
        SELECT key, NEW.body FROM consultation_text_keys
        WHERE appointment_id = NEW.appointment_id AND message_index = NEW.message_index AND coalesce(NEW.body, '') <> '';
END;

CREATE TRIGGER chat_messages_search_delete AFTER DELETE ON chat_messages BEGIN
    DELETE FROM consultation_text_fts WHERE rowid =
        (SELECT key FROM consultation_text_keys WHERE appointment_id = OLD.appointment_id AND message_index = OLD.message_index);
    DELETE FROM consultation_text_keys WHERE appointment_id = OLD.appointment_id AND message_index = OLD.message_index;
END;

CREATE TRIGGER consultations_notes_search AFTER UPDATE OF notes ON consultations WHEN OLD.notes IS NOT NEW.notes BEGIN
    INSERT OR IGNORE INTO consultation_text_keys (appointment_id, message_index) VALUES (NEW.appointment_id, -1);
    DELETE FROM consultation_text_fts WHERE rowid =
        (SELECT key FROM consultation_text_keys WHERE appointment_id = NEW.appointment_id AND message_index = -1);
    INSERT INTO consultation_text_fts (rowid, body)
        SELECT key, NEW.notes FROM consultation_text_keys
        WHERE appointment_id = NEW.appointment_id AND message_index = -1 AND NEW.notes <> '';
END;
