-- Desks and staff sessions on the clinic server, and the wake-up call for desks waiting on the
-- sync feed.

-- A desk is a computer an admin enrolled. It proves itself with a long random credential (kept
-- in that computer's keyring); only its SHA-256 is stored, so a copy of this table opens nothing.
CREATE TABLE desks (
  id              uuid PRIMARY KEY,
  name            text NOT NULL,
  credential_hash text NOT NULL UNIQUE,
  enrolled_by     uuid REFERENCES users (id),
  enrolled_at     timestamptz NOT NULL DEFAULT now(),
  revoked_at      timestamptz,
  last_seen_at    timestamptz
);

-- One enrolled desk per name, so a desk can be named to revoke it.
CREATE UNIQUE INDEX desks_name_enrolled ON desks (lower(name)) WHERE revoked_at IS NULL;

-- A staff member signed in on a desk. The token is random and only its SHA-256 is stored.
CREATE TABLE staff_sessions (
  token_hash   text PRIMARY KEY,
  user_id      uuid NOT NULL REFERENCES users (id),
  desk_id      uuid NOT NULL REFERENCES desks (id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  ended_at     timestamptz
);

ALTER TABLE desk_commands ADD CONSTRAINT desk_commands_desk FOREIGN KEY (desk_id) REFERENCES desks (id);

-- Desks long-poll the feed; a commit that added changes wakes them (NOTIFY is delivered at commit,
-- never for a rolled-back transaction). The server still re-reads every second, because a change
-- can also become readable when an older, unrelated transaction ends.
CREATE FUNCTION changes_wake_desks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('clinicdesk_changes', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER changes_wake_desks AFTER INSERT ON changes
  FOR EACH STATEMENT EXECUTE FUNCTION changes_wake_desks();

GRANT SELECT, INSERT, UPDATE ON desks, staff_sessions TO clinicdesk_writer;
