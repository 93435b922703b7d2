-- A desk's own trail entries for a doctor's notes amended after a consultation's end were sent up
-- to the clinic server like reads; since the server keeps the notes' history by the core's rule
-- and audits each amendment itself (issue 12, notes_rule.rs), a desk sends up only those written
-- before this point (core/src/sync/audit_upload.rs): none is lost to an upgrade, none is counted twice.
INSERT OR IGNORE INTO sync_state (key, value)
SELECT 'amendments_audited_by_server_after', CAST(coalesce(max(id), 0) AS TEXT) FROM audit_log;
