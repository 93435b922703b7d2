-- 0004: a fenced outbox worker, and sending paused (not failed) while the Twilio setup is broken.

-- Every worker that takes the lock gets the next generation; everything it records is checked
-- against it in the same transaction, so a worker that lost its lock changes nothing. The row now
-- stays when a worker stops (holder '' = free), so generations never go back. `host` names the
-- computer, boot and process namespace, and `pid_started` the process's start time, so a dead
-- process is only presumed from a pid that means the same process here ('' = unknown: never).
ALTER TABLE outbox_lock ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox_lock ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox_lock ADD COLUMN pid_started INTEGER NOT NULL DEFAULT 0;

-- At most one row: why sending is paused (refused credentials, an inactive account, a sender the
-- account cannot use, a secret missing from the keyring), and when the worker checks again.
CREATE TABLE outbox_hold (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    code           INTEGER,
    reason         TEXT NOT NULL,
    since          TEXT NOT NULL,
    next_check_at  TEXT NOT NULL
);
