-- octogate schema, version 8: receipts found by one indexed equality; nothing left waiting forever.
--
-- part_keys: every key a part's carrier id can be read as (octogate.incoming.ids.part_keys): its canonical
-- form (lower case, no leading zeros; same_base = 1), and its value re-spelled in the other base when the id is
-- all hex (its decimal) or all decimal (its hex) (same_base = 0). A receipt is looked up by its own canonical
-- key: `connector = ? AND carrier_key = ?` on the primary key, a plan PostgreSQL picks even on a new table
-- without statistics (no more IN (...) of 17 spellings scanning a connector's rows).
CREATE TABLE part_keys (
    connector TEXT NOT NULL,
    carrier_key TEXT NOT NULL,
    message_id {bigint} NOT NULL,
    seq INTEGER NOT NULL,
    same_base INTEGER NOT NULL,
    PRIMARY KEY (connector, carrier_key, message_id, seq)
);

-- When the gateway received each part's final receipt: a receipt push's delivery_date (done_at stays the SMSC's
-- done date, for the operator).
ALTER TABLE message_parts ADD COLUMN received_at {bigint};

-- Messages still waiting for receipts, oldest first: the ones past their validity are given up in bounded batches.
CREATE INDEX messages_waiting ON messages (submitted_at) WHERE status = 'submitted';
-- Parts are no longer looked up by their raw id: part_keys replaces this index.
DROP INDEX message_parts_carrier;

-- Backfill, in SQL that runs on both engines: the canonical key of every recorded part, then its re-spellings
-- computed digit by digit (hex ids up to 15 digits, decimal ids up to 18: what fits a BIGINT; a longer id
-- recorded before this version is found in its own base only).
INSERT INTO part_keys (connector, carrier_key, message_id, seq, same_base)
SELECT connector,
       CASE WHEN ltrim(substr(lower(trim(carrier_id)), 1, 64), '0') = '' THEN '0'
            ELSE ltrim(substr(lower(trim(carrier_id)), 1, 64), '0') END,
       message_id, seq, 1
FROM message_parts WHERE carrier_id IS NOT NULL AND trim(carrier_id) <> '';

WITH RECURSIVE
digits (c, v) AS (
    VALUES ('0', 0), ('1', 1), ('2', 2), ('3', 3), ('4', 4), ('5', 5), ('6', 6), ('7', 7), ('8', 8), ('9', 9),
           ('a', 10), ('b', 11), ('c', 12), ('d', 13), ('e', 14), ('f', 15)
),
hexed (connector, message_id, seq, rest, value) AS (
    SELECT connector, message_id, seq, carrier_key, CAST(0 AS BIGINT) FROM part_keys
    WHERE same_base = 1 AND length(carrier_key) <= 15
    UNION ALL
    SELECT h.connector, h.message_id, h.seq, substr(h.rest, 2), h.value * 16 + d.v
    FROM hexed h JOIN digits d ON d.c = substr(h.rest, 1, 1) WHERE h.rest <> ''
)
INSERT INTO part_keys (connector, carrier_key, message_id, seq, same_base)
SELECT connector, CAST(value AS TEXT), message_id, seq, 0 FROM hexed WHERE rest = ''
ON CONFLICT DO NOTHING;

WITH RECURSIVE
digits (c, v) AS (
    VALUES ('0', 0), ('1', 1), ('2', 2), ('3', 3), ('4', 4), ('5', 5), ('6', 6), ('7', 7), ('8', 8), ('9', 9)
),
dec_value (connector, message_id, seq, rest, value) AS (
    SELECT connector, message_id, seq, carrier_key, CAST(0 AS BIGINT) FROM part_keys
    WHERE same_base = 1 AND length(carrier_key) <= 18
    UNION ALL
    SELECT n.connector, n.message_id, n.seq, substr(n.rest, 2), n.value * 10 + d.v
    FROM dec_value n JOIN digits d ON d.c = substr(n.rest, 1, 1) WHERE n.rest <> ''
),
hex_spelled (connector, message_id, seq, value, spelled) AS (
    SELECT connector, message_id, seq, value, CAST('' AS TEXT) FROM dec_value WHERE rest = '' AND value > 0
    UNION ALL
    SELECT connector, message_id, seq, value / 16,
           substr('0123456789abcdef', CAST(value - (value / 16) * 16 AS INTEGER) + 1, 1) || spelled
    FROM hex_spelled WHERE value > 0
)
INSERT INTO part_keys (connector, carrier_key, message_id, seq, same_base)
SELECT connector, spelled, message_id, seq, 0 FROM hex_spelled WHERE value = 0
ON CONFLICT DO NOTHING;
