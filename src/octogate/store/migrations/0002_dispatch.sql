-- octogate schema, version 2: the dispatcher's claims.
-- A claimed message is 'sending' with the claiming process (`claimed_by`) and a lease (`lease_until`, epoch
-- seconds): the process renews the lease while it holds the message; when the process dies, the lease runs
-- out and the message becomes claimable again (at-least-once after a crash, never twice otherwise).

ALTER TABLE messages ADD COLUMN claimed_by TEXT;
ALTER TABLE messages ADD COLUMN lease_until {bigint};

-- Due messages per account, in dispatch order: fair claiming takes a small slice of each account in turn.
CREATE INDEX messages_account_due ON messages (status, account_id, priority, send_at);
