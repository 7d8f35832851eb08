-- `dataflow outbox replay`: where each replay stands, so an interrupted one resumes. A replay
-- is named by what it sends and where (its selection); `last_id` is the highest outbox id
-- every event up to which the target acknowledged.
CREATE TABLE replay_run (
    selection   TEXT PRIMARY KEY,
    last_id     BIGINT NOT NULL DEFAULT 0,
    sent        BIGINT NOT NULL DEFAULT 0,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
);
