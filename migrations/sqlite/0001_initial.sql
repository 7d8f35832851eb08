-- The original's tables, with the constraints their data implies, plus the outbox.
-- Money is TEXT holding an exact two-decimal string: SQLite has no decimal type.
CREATE TABLE IF NOT EXISTS "user" (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT NOT NULL UNIQUE,
    hashed_password TEXT NOT NULL
);

CREATE TABLE tb_product (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200 AND trim(name) <> ''),
    description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    category    TEXT NOT NULL CHECK (length(category) BETWEEN 1 AND 100 AND trim(category) <> '')
);

CREATE TABLE tb_pricing (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL UNIQUE REFERENCES tb_product (id) ON DELETE CASCADE,
    ammount    TEXT NOT NULL CHECK (typeof(ammount) = 'text' AND ammount GLOB '[0-9]*.[0-9][0-9]'
                                    AND ammount NOT GLOB '*[^0-9.]*' AND length(ammount) <= 15),
    currency   TEXT NOT NULL CHECK (length(currency) = 3 AND currency NOT GLOB '*[^A-Z]*')
);

CREATE TABLE tb_availability (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id  INTEGER NOT NULL UNIQUE REFERENCES tb_product (id) ON DELETE CASCADE,
    quantity    INTEGER NOT NULL CHECK (typeof(quantity) = 'integer' AND quantity BETWEEN 0 AND 2147483647),
    "timestamp" TEXT NOT NULL
);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id      INTEGER NOT NULL REFERENCES tb_product (id) ON DELETE CASCADE,
    msg_key         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    claimed_by      TEXT,
    claimed_until   TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    published_at    TEXT,
    kafka_partition INTEGER,
    kafka_offset    INTEGER,
    CHECK ((published_at IS NULL) = (kafka_offset IS NULL))
);

CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_product ON outbox (product_id);
CREATE INDEX outbox_published ON outbox (id) WHERE published_at IS NOT NULL;
