-- octogate schema, version 4: incoming traffic and the push outbox.

-- The outbox: one row per push owed to a customer, written in the same transaction as the state change it
-- reports. The URL is read from the account when the push is attempted, so a corrected URL takes effect.
-- status: pending -> delivered | failed (gave up after the retry horizon).
CREATE TABLE callbacks (
    id {pk},
    account_id {bigint} NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {bigint} NOT NULL,
    created_at {bigint} NOT NULL,
    delivered_at {bigint},
    last_error TEXT,
    claimed_by TEXT,
    lease_until {bigint}
);
CREATE INDEX callbacks_due ON callbacks (status, next_attempt_at);
CREATE INDEX callbacks_account ON callbacks (account_id, id);

-- Every attempt at a push: when, and the HTTP status or the error.
CREATE TABLE callback_attempts (
    callback_id {bigint} NOT NULL REFERENCES callbacks (id),
    attempt INTEGER NOT NULL,
    attempted_at {bigint} NOT NULL,
    status_code INTEGER,
    error TEXT,
    PRIMARY KEY (callback_id, attempt)
);

-- Receipts whose carrier id matches no recorded part yet (a receipt can overtake its submit_sm_resp's
-- recording): kept until the part appears, never dropped.
CREATE TABLE early_receipts (
    id {pk},
    connector TEXT NOT NULL,
    carrier_id TEXT NOT NULL,
    stat TEXT NOT NULL,
    error TEXT,
    done_at {bigint},
    received_at {bigint} NOT NULL
);
CREATE INDEX early_receipts_carrier ON early_receipts (connector, carrier_id);

-- Incoming texts (MO): replies and STOPs, with what they were tied to.
CREATE TABLE incoming (
    id {pk},
    connector TEXT NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    text TEXT NOT NULL,
    kind TEXT NOT NULL,
    account_id {bigint},
    campaign_id {bigint},
    message_id {bigint},
    received_at {bigint} NOT NULL
);

CREATE INDEX messages_recipient ON messages (recipient, id);
