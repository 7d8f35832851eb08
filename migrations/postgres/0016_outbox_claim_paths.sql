-- What a claim of orphans reads, and two foreign keys fewer on the write path.
--
-- outbox_pending becomes (id): a claim walks the pending events in id order and stops at its
-- limit. On (destination, id) the claim's "this destination or one of its cluster" could not
-- use it for that order, and a generic plan without statistics walked the whole outbox by its
-- key instead (every 5 s per relay).
-- (The claim's check for an older pending event of the same product is now a lookup of
-- the product's oldest event with kafka_offset IS NULL, equal to published_at IS NULL by
-- outbox_check, so that no partial index is chosen for it: with statistics taken while little
-- was pending, it scanned every pending event once per orphan. tests/claim_cost.rs counts both.)
-- Writers lock tb_product before outbox: taking it first here too, a replica still running
-- the old binary waits for the migration instead of deadlocking with it.
LOCK TABLE tb_product IN SHARE ROW EXCLUSIVE MODE;
DROP INDEX IF EXISTS outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;

-- Outbox and import_key rows are written in their product's own statement, and dataflow never
-- deletes a product (a deletion sets deleted_at and is itself an event): their foreign keys
-- checked nothing that can fail on insert, and those per-row checks were half the
-- foreign-key work of every registration and import (BENCHMARKS.md, issue 34). What the keys
-- also did, cascade a product deleted (or truncated) by hand, statement triggers on
-- tb_product still do, at no cost to inserts. tb_pricing's and tb_availability's keys are the contract's and stay.
-- SQLite keeps its keys (dropping one there rebuilds the table).
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_product_id_fkey;
ALTER TABLE import_key DROP CONSTRAINT IF EXISTS import_key_product_id_fkey;

CREATE FUNCTION tb_product_removed() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM import_key k USING removed r WHERE k.product_id = r.id;
    DELETE FROM outbox o USING removed r WHERE o.product_id = r.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER tb_product_removed AFTER DELETE ON tb_product
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION tb_product_removed();

CREATE FUNCTION tb_product_truncated() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    TRUNCATE import_key, outbox;
    RETURN NULL;
END
$$;
CREATE TRIGGER tb_product_truncated AFTER TRUNCATE ON tb_product
    FOR EACH STATEMENT EXECUTE FUNCTION tb_product_truncated();
