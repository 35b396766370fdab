-- octogate schema, version 51: the traffic charts' index holds finished messages only.
-- messages_done (done_at, account_id, status) had an entry for every message from its insert on (done_at NULL),
-- moved at each status change: an index write at enqueue, claim and submit that no query reads (the charts ask
-- `done_at >= ?`, which implies `done_at IS NOT NULL`: both engines still pick this index for them). Now a
-- message enters it once, when it takes its final status.
DROP INDEX messages_done;
CREATE INDEX messages_done ON messages (done_at, account_id, status) WHERE done_at IS NOT NULL;
