-- A claim of orphans walks the pending events in id order and stops at its limit. On
-- (destination, id) the claim's "this destination or one of its cluster" could not use the
-- index for that order, and SQLite scanned the whole outbox by rowid instead, every 5 s per
-- relay and on every wake (EXPLAIN QUERY PLAN: "SCAN o"; now "SCAN o USING INDEX
-- outbox_pending"). Same change as PostgreSQL's 0016; the foreign keys stay here.
DROP INDEX IF EXISTS outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;
