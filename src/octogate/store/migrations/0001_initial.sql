-- octogate schema, version 1. `{pk}` and `{bigint}` are filled per dialect by octogate.store.schema.
-- Money is in micro-units (1e-6) of the account's currency; times are Unix epoch seconds (UTC).

CREATE TABLE gateway_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    paused INTEGER NOT NULL DEFAULT 0,
    prices_version {bigint} NOT NULL DEFAULT 0
);
INSERT INTO gateway_state (id, paused, prices_version) VALUES (1, 0, 0);

CREATE TABLE accounts (
    id {pk},
    login TEXT NOT NULL UNIQUE,
    api_key_hash TEXT NOT NULL,
    balance {bigint} NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT 'EUR',
    activated INTEGER NOT NULL DEFAULT 1,
    blacklisted INTEGER NOT NULL DEFAULT 0,
    pending_order INTEGER NOT NULL DEFAULT 0,
    transliterate INTEGER NOT NULL DEFAULT 0,
    receipt_url TEXT,
    stop_url TEXT,
    reply_url TEXT,
    created_at {bigint} NOT NULL
);

-- Every change of a balance, with the balance after it: the account's statement.
CREATE TABLE ledger (
    id {pk},
    account_id {bigint} NOT NULL REFERENCES accounts (id),
    amount {bigint} NOT NULL,
    balance_after {bigint} NOT NULL,
    reason TEXT NOT NULL,
    campaign_id {bigint},
    note TEXT,
    created_at {bigint} NOT NULL
);
CREATE INDEX ledger_account ON ledger (account_id, id);

-- A campaign's ticket is derived from its id (octogate.store.tickets), so it needs no column of its own.
CREATE TABLE campaigns (
    id {pk},
    account_id {bigint} NOT NULL REFERENCES accounts (id),
    request_id TEXT,
    source TEXT NOT NULL,
    sms_type TEXT NOT NULL,
    sender TEXT,
    sender_is_msisdn INTEGER NOT NULL,
    text TEXT NOT NULL,
    transactional INTEGER NOT NULL,
    with_replies INTEGER NOT NULL,
    recipients INTEGER NOT NULL,
    sms INTEGER NOT NULL,
    cost {bigint} NOT NULL,
    send_at {bigint} NOT NULL,
    created_at {bigint} NOT NULL,
    UNIQUE (account_id, request_id)
);

-- One row per recipient message. `text` is NULL when it is the campaign's text (no mail-merge).
-- status: queued -> sending -> submitted -> delivered | undelivered | failed.
CREATE TABLE messages (
    id {pk},
    campaign_id {bigint} NOT NULL REFERENCES campaigns (id),
    account_id {bigint} NOT NULL,
    recipient TEXT NOT NULL,
    country TEXT NOT NULL,
    calling_code INTEGER NOT NULL,
    text TEXT,
    sms INTEGER NOT NULL,
    cost {bigint} NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    priority INTEGER NOT NULL,
    send_at {bigint} NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    connector TEXT,
    parts INTEGER,
    submitted_at {bigint},
    done_at {bigint},
    receipt_status TEXT,
    error TEXT
);
CREATE INDEX messages_due ON messages (status, priority, send_at);
CREATE INDEX messages_campaign ON messages (campaign_id);

-- One row per wire part of a message, with the carrier's id: receipts arrive per part.
CREATE TABLE message_parts (
    message_id {bigint} NOT NULL REFERENCES messages (id),
    seq INTEGER NOT NULL,
    connector TEXT NOT NULL,
    carrier_id TEXT,
    status TEXT NOT NULL,
    submitted_at {bigint},
    done_at {bigint},
    error TEXT,
    PRIMARY KEY (message_id, seq)
);
CREATE INDEX message_parts_carrier ON message_parts (connector, carrier_id);

CREATE TABLE stops (
    account_id {bigint} NOT NULL REFERENCES accounts (id),
    number TEXT NOT NULL,
    text TEXT,
    created_at {bigint} NOT NULL,
    PRIMARY KEY (account_id, number)
);

-- The operator's price table (EUR micro-units per SMS; NULL: that type is not offered there).
CREATE TABLE prices (
    calling_code INTEGER PRIMARY KEY,
    country TEXT NOT NULL,
    name TEXT NOT NULL,
    fr {bigint},
    xxx {bigint},
    www {bigint}
);
