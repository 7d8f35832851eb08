-- Each event names where it must go; a relay claims only its own destination's events.
-- Rows from before this migration have none: the first process of a real cluster adopts them
-- (see service start-up), and their claims are reset because leases now use the database clock.
ALTER TABLE outbox ADD COLUMN destination TEXT;
UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE published_at IS NULL;

DROP INDEX IF EXISTS outbox_pending;
CREATE INDEX outbox_pending ON outbox (destination, id) WHERE published_at IS NULL;
CREATE INDEX outbox_claimed ON outbox (claimed_by) WHERE published_at IS NULL;

-- Every destination this database has fed. An embedded broker refuses a database that a real
-- cluster serves; the owner columns make one embedded broker per database, which others join.
CREATE TABLE destination (
    name        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('embedded', 'kafka')),
    first_seen  TIMESTAMPTZ NOT NULL DEFAULT now(),
    owner       TEXT,
    owner_addr  TEXT,
    owner_host  TEXT,
    owner_pid   BIGINT,
    owner_until TIMESTAMPTZ
);
