-- Each group commit writes its token in its own transaction. A writer whose connection was
-- lost after it sent the commit looks the token up to learn the outcome; when the token is
-- not there it writes it itself (rows NULL), which makes the lost commit fail if it is still
-- running, so the answer "not saved" stays true. Rows older than an hour are deleted.
CREATE TABLE write_batch (
    created_at TEXT NOT NULL,
    token      INTEGER NOT NULL,
    -- JSON [[product, pricing, availability, outbox], ...] in the batch's order.
    rows       TEXT,
    PRIMARY KEY (created_at, token)
);
