-- The product listing joins each product to its latest event: max(id) per product_id.
-- An index on (product_id, id) answers that with one probe; on product_id alone PostgreSQL
-- chose to walk the outbox's primary key backwards for every row.
DROP INDEX IF EXISTS outbox_product;
CREATE INDEX outbox_product_latest ON outbox (product_id, id);
