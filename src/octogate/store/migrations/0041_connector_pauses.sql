-- octogate schema, version 41: one connector paused by the operator (console or CLI). Durable, so that every
-- host's dispatcher honours it (read with each claim) and a restart keeps it; a row is a pause, no row: running.
CREATE TABLE connector_pauses (
    connector TEXT PRIMARY KEY,
    paused_at {bigint} NOT NULL,
    paused_by TEXT NOT NULL
);
