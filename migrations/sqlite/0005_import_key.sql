-- What makes an imported row a duplicate: its `external_id` column (`ext:...`) when the file
-- has one, else the first 128 bits of its content's SHA-256 (`sha256:...`). Written in the product's transaction, so a
-- re-run of the same import, or two imports at once, add each product once. WITHOUT ROWID:
-- one B-tree keyed by the key, not a table and an index beside it.
CREATE TABLE import_key (
    key        TEXT PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES tb_product (id) ON DELETE CASCADE
) WITHOUT ROWID;
