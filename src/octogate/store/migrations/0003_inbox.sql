-- octogate schema, version 3: the e-mail inbox. One row per mail handed to the SMTP server's push address,
-- with what became of it: never the API key (it is removed from the subject before the row is written).
-- outcome: accepted (ticket) | refused (API error_code) | ignored (request_id missing or malformed, as the
-- document says) | rejected (unreadable mail: malformed MIME, end marker missing, no text part).

CREATE TABLE inbox (
    id {pk},
    received_at {bigint} NOT NULL,
    mail_from TEXT NOT NULL,
    subject TEXT NOT NULL,
    message_id TEXT NOT NULL,
    login TEXT,
    request_id TEXT,
    outcome TEXT NOT NULL,
    error_code INTEGER,
    ticket TEXT,
    reason TEXT NOT NULL
);
CREATE INDEX inbox_login ON inbox (login, id);
