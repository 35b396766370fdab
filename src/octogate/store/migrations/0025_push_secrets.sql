-- octogate schema: the secret each account's pushes are signed with (X-Octogate-Signature).
--
-- Kept as the operator set it, not hashed: the gateway must compute an HMAC with it for every push, and a
-- hash cannot sign. Its own table, so that no listing of accounts ever reads it by accident.
CREATE TABLE push_secrets (
    account_id {bigint} PRIMARY KEY REFERENCES accounts (id),
    secret TEXT NOT NULL,
    set_at {bigint} NOT NULL
);
