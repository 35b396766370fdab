-- octogate schema, version 7: the per-host push limit holds across every gateway host.
-- One row per slot of a customer's host (scheme://host:port): a worker leases slots before POSTing there
-- (taken in batches when it has work for the host, renewed with its other leases, given back when it has no
-- more). A dead worker's slots are free again when their lease runs out.
CREATE TABLE push_slots (
    host TEXT NOT NULL,
    slot INTEGER NOT NULL,
    claimed_by TEXT,
    lease_until {bigint},
    PRIMARY KEY (host, slot)
);
CREATE INDEX push_slots_owner ON push_slots (claimed_by);
