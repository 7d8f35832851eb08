-- Catalogue changes: every product carries a version (+1 per change) and who changed it.
-- A deleted product keeps its row (deleted_at), so its events and their order stay in the
-- outbox; every read leaves it out.
ALTER TABLE tb_product
    ADD COLUMN version    BIGINT NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN created_by TEXT,
    ADD COLUMN updated_by TEXT,
    ADD COLUMN updated_at TIMESTAMPTZ,
    ADD COLUMN deleted_at TIMESTAMPTZ;

-- What each event says, for the Kafka headers `event` and `version`. A deleted event is a
-- tombstone: its payload is empty and it is published with a null value.
ALTER TABLE outbox
    ADD COLUMN event   TEXT NOT NULL DEFAULT 'created'
        CHECK (event IN ('created', 'updated', 'deleted')),
    ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- An update must know whether an older event of its product is still unpublished.
CREATE INDEX outbox_product_pending ON outbox (product_id, id) WHERE published_at IS NULL;
