-- Login lock-out for the whole service: failures per user and per client address are counted
-- here, so any number of replicas checks at most the allowed number of wrong passwords.
-- Times are Unix milliseconds from the replicas' clocks.
CREATE TABLE login_throttle (
    key             TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL DEFAULT 0,
    -- Passwords being checked now; each holds a failure slot until it resolves.
    in_flight       INTEGER NOT NULL DEFAULT 0,
    -- The next lock-out's length: doubles with each one, up to the rules' maximum.
    next_lock_ms    BIGINT NOT NULL,
    locked_until_ms BIGINT NOT NULL DEFAULT 0,
    updated_ms      BIGINT NOT NULL,
    -- The key's limit (5 for a user, 20 for an address by default), as the last check had it.
    max_failures    INTEGER NOT NULL DEFAULT 5
);

-- The audit trail: append-only. Entries about a product or user change commit in that
-- change's transaction; the rest are written right after the action.
CREATE TABLE audit_log (
    id         BIGSERIAL PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
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

-- Nobody edits the trail: no UPDATE, no TRUNCATE, and DELETE only of entries older than a
-- day (retention, AUDIT_RETENTION_DAYS >= 1).
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.at < now() - interval '1 day' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
