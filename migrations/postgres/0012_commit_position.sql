-- Readers that follow the table page by (writing transaction, id), not by id alone: ids are
-- drawn before commit, so rows become visible out of id order. Rows written before this
-- migration count as written by transaction 0 (all of them had committed).
ALTER TABLE tb_product ADD COLUMN tx BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tb_product ALTER COLUMN tx SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX tb_product_tx_id ON tb_product (tx, id);
