-- The original's tables, with the constraints their data implies, plus the outbox.
CREATE TABLE IF NOT EXISTS "user" (
    id              SERIAL PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    hashed_password TEXT NOT NULL
);

CREATE TABLE tb_product (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200 AND btrim(name) <> ''),
    description TEXT NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    category    TEXT NOT NULL CHECK (char_length(category) BETWEEN 1 AND 100 AND btrim(category) <> '')
);

CREATE TABLE tb_pricing (
    id         BIGSERIAL PRIMARY KEY,
    product_id BIGINT NOT NULL UNIQUE REFERENCES tb_product (id) ON DELETE CASCADE,
    ammount    NUMERIC(14, 2) NOT NULL CHECK (ammount >= 0 AND ammount < 1000000000000),
    currency   TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$')
);

CREATE TABLE tb_availability (
    id          BIGSERIAL PRIMARY KEY,
    product_id  BIGINT NOT NULL UNIQUE REFERENCES tb_product (id) ON DELETE CASCADE,
    quantity    INTEGER NOT NULL CHECK (quantity >= 0),
    "timestamp" TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per event; the relay sets published_* only on the broker's acknowledgement.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    product_id      BIGINT NOT NULL REFERENCES tb_product (id) ON DELETE CASCADE,
    msg_key         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    claimed_by      TEXT,
    claimed_until   TIMESTAMPTZ,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    published_at    TIMESTAMPTZ,
    kafka_partition INTEGER,
    kafka_offset    BIGINT,
    CHECK ((published_at IS NULL) = (kafka_offset IS NULL))
);

CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_product ON outbox (product_id);
CREATE INDEX outbox_published ON outbox (id) WHERE published_at IS NOT NULL;
