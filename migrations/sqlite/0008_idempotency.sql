-- Idempotency-Key of a registration or change, committed with the product it wrote (same
-- transaction): a retry with the same key finds it and replays the answer instead of
-- registering again, on any replica, after any restart. Scoped to the user. Keys older than
-- IDEMPOTENCY_TTL_HOURS are ignored and deleted.
CREATE TABLE idempotency_key (
    username     TEXT NOT NULL,
    key          TEXT NOT NULL,
    -- SHA-256 of the request's validated fields: the same key with another request is refused.
    request_hash TEXT NOT NULL,
    product_id   INTEGER NOT NULL,
    status       INTEGER NOT NULL,
    -- The product's version the answer showed (1 for a registration).
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (username, key)
);
CREATE INDEX idempotency_key_created ON idempotency_key (created_at);
