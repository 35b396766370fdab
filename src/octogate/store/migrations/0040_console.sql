-- octogate schema, version 40: the web console.
-- Console passwords of customers (one per account) and of operators: argon2id hashes (octogate.passwords),
-- never the password. The session secret signs the console's cookies; kept here so that every host of a
-- cluster accepts the cookies of the others (made at the first start of a console, never shown).
CREATE TABLE account_passwords (
    account_id {bigint} PRIMARY KEY REFERENCES accounts (id),
    password_hash TEXT NOT NULL,
    updated_at {bigint} NOT NULL
);

CREATE TABLE operators (
    id {pk},
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at {bigint} NOT NULL
);

CREATE TABLE console_secret (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL
);

-- Every operator action (console or CLI): who, when, what, on what. Never a secret (a new key, a password).
CREATE TABLE audit_log (
    id {pk},
    at {bigint} NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
);

-- The console's pages read by these, in pages (keyset on id), never by a scan of the whole table:
-- an account's campaigns, newest first;
CREATE INDEX campaigns_account ON campaigns (account_id, id);
-- a campaign's counts by status and its recipients a page at a time, by status (it replaces
-- messages_campaign, whose lookups by campaign it serves as well: no index more for the writers). The counts
-- read only the statuses that are not 'delivered' (a campaign's few), delivered being the rest of its
-- recipients; an unfiltered page merges one short range per status (octogate.store.console_queries);
CREATE INDEX messages_campaign_status ON messages (campaign_id, status, id);
-- (IF EXISTS: another migration may have replaced it first)
DROP INDEX IF EXISTS messages_campaign;
-- the traffic charts (messages per hour by final status, of one account or of all) over the last hours;
CREATE INDEX messages_done ON messages (done_at, account_id, status);
-- an account's replies and STOPs, newest first.
CREATE INDEX incoming_account ON incoming (account_id, id);
