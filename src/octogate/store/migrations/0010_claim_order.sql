-- octogate schema, version 10: claims read due work in the queue's order straight from an index.
-- A claim takes `ORDER BY priority, send_at, id` (messages) or `next_attempt_at, id` (pushes) of one account:
-- without `id` in the index, PostgreSQL sorted the account's whole backlog under the row locks of every claim
-- (measured: 38-45 ms per claim with 200,000 queued messages; 0.8 ms with these indexes).
CREATE INDEX messages_claim ON messages (status, account_id, priority, send_at, id);
DROP INDEX messages_account_due;
CREATE INDEX callbacks_claim ON callbacks (status, account_id, next_attempt_at, id);
DROP INDEX callbacks_pending;
