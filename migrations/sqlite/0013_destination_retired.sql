-- `dataflow outbox retire`: a Kafka cluster this database no longer feeds. Events recorded
-- for it after that tie the database to it again.
ALTER TABLE destination ADD COLUMN retired_at TEXT;
