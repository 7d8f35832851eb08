-- `dataflow outbox replay`: where each replay stands, so an interrupted one resumes. A replay
-- is named by what it sends and where (its selection); `last_id` is the highest outbox id
-- every event up to which the target acknowledged.
CREATE TABLE replay_run (
    selection   TEXT PRIMARY KEY,
    last_id     INTEGER NOT NULL DEFAULT 0,
    sent        INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at TEXT
);
