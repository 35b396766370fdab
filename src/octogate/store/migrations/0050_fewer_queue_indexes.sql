-- Every status change of a message or a push writes a new entry in each index of its table (the status is
-- indexed, so no update is HOT): an index that no query needs is paid three times per message.
-- messages_due (status, priority, send_at) is served by messages_claim (status, account_id, priority, send_at,
-- id): the claims name the account, the status counts and the lease sweep need only the status prefix.
DROP INDEX messages_due;
-- callbacks_due (status, next_attempt_at): likewise served by callbacks_claim (status, account_id, ...).
DROP INDEX callbacks_due;
