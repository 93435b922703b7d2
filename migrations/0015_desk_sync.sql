-- A desk of a clinic server keeps this database as its cache (issue 12; core/src/sync/).

-- Where this desk has read the clinic server's change feed up to, and similar small facts of the
-- link ('cursor'). One row per key; written in the same transaction as the changes it covers, so a
-- desk never skips a change and never applies one twice.
CREATE TABLE sync_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Staff whose password this desk has checked with the clinic server may sign in here while the
-- server cannot be reached, until this instant (14 days after their last online sign-in here).
-- NULL for everyone on a one-desk clinic, where the rule does not apply.
ALTER TABLE users ADD COLUMN offline_sign_in_until TEXT;
