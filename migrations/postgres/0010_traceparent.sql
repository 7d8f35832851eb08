-- The W3C trace context of the request that made the event: published as the record's
-- traceparent header (NULL for events made before this column, and for changes).
ALTER TABLE outbox ADD COLUMN traceparent TEXT;
