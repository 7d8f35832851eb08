-- Start-up gives events written before destinations existed to one; without this index that
-- look-up read every event ever written.
CREATE INDEX outbox_unrouted ON outbox (id) WHERE destination IS NULL;

-- The consumer route's turn per group, across processes: one call reads and commits at a
-- time, so two replicas sharing CONSUMER_GROUP never return one message twice. A holder that
-- died leaves a lease that runs out by the database's clock.
CREATE TABLE consumer_turn (
    group_name TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    held_until TIMESTAMPTZ NOT NULL
);

-- A real cluster is named by its cluster id (from the broker's metadata) and the topic, not
-- by how KAFKA_HOST spells it: destinations found to share a cluster and topic publish each
-- other's events. NULL until a relay has reached the cluster.
ALTER TABLE destination ADD COLUMN cluster TEXT;
