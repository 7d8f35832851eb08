-- Fewer outbox indexes on the write path: each event wrote five index entries at its insert
-- and three more at its mark. These three answer nothing another index does not:
--   outbox_claimed (claimed_by, pending): a relay's held events are found among the pending
--     ones through outbox_pending, which holds only what waits;
--   outbox_product_pending (product_id, id, pending): an older pending event of a product is
--     found through outbox_product_latest (product_id, id), a handful of rows per product;
--   outbox_published (id, published): the newest published events are found walking the
--     primary key from the top.
-- Measured in BENCHMARKS.md (B-tree leaf inserts per event 14 -> 11, WAL per event -11 %).
DROP INDEX IF EXISTS outbox_claimed;
DROP INDEX IF EXISTS outbox_product_pending;
DROP INDEX IF EXISTS outbox_published;
