-- Login lock-out for the whole service: failures per user and per client address are counted
-- here, so any number of processes checks at most the allowed number of wrong passwords.
-- Times are Unix milliseconds from the processes' clocks.
CREATE TABLE login_throttle (
    key             TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL DEFAULT 0,
    -- Passwords being checked now; each holds a failure slot until it resolves.
    in_flight       INTEGER NOT NULL DEFAULT 0,
    -- The next lock-out's length: doubles with each one, up to the rules' maximum.
    next_lock_ms    INTEGER NOT NULL,
    locked_until_ms INTEGER NOT NULL DEFAULT 0,
    updated_ms      INTEGER NOT NULL,
    -- The key's limit (5 for a user, 20 for an address by default), as the last check had it.
    max_failures    INTEGER NOT NULL DEFAULT 5
);

-- The audit trail: append-only. Entries about a product or user change commit in that
-- change's transaction; the rest are written right after the action.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    outcome    TEXT NOT NULL,
    via        TEXT NOT NULL,
    address    TEXT,
    user_agent TEXT,
    detail     TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Nobody edits the trail: no UPDATE, and DELETE only of entries older than a day
-- (retention, AUDIT_RETENTION_DAYS >= 1).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only (UPDATE refused)');
END;
CREATE TRIGGER audit_log_no_early_delete BEFORE DELETE ON audit_log
    WHEN OLD.at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only (DELETE refused)');
END;
