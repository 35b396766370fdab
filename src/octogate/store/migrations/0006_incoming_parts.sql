-- octogate schema, version 6: the parts of long incoming texts, kept durably until the text is whole.
-- Each part is stored before the SMSC is told it was received, so a crash or restart loses none of them.
CREATE TABLE incoming_parts (
    connector TEXT NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    ref INTEGER NOT NULL,
    total INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    received_at {bigint} NOT NULL,
    PRIMARY KEY (connector, source, destination, ref, total, seq)
);
CREATE INDEX incoming_parts_age ON incoming_parts (received_at);
