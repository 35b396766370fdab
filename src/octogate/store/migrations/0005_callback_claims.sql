-- octogate schema, version 5: what the push worker needs to claim fairly and to retry on the operator's word.

-- Claims go account by account (one slow customer cannot fill a worker's memory): pending rows by account,
-- due first.
CREATE INDEX callbacks_pending ON callbacks (status, account_id, next_attempt_at);

-- The retry horizon counts from here: created_at, or the moment the operator asked for another round.
ALTER TABLE callbacks ADD COLUMN horizon_from {bigint};
