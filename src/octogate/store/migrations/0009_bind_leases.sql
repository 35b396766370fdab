-- octogate schema, version 9: binds shared by the hosts of a cluster.
-- An SMSC caps the binds of an account; `binds` in a connector's configuration is the whole cluster's share.
-- Each bind slot (0 .. binds-1) is owned by one host through a lease (`expires_at`, milliseconds of the
-- database's clock, so that hosts' clocks never matter), renewed while the host lives, deleted on a clean stop,
-- and taken by another host once it has run out.
CREATE TABLE bind_leases (
    connector TEXT NOT NULL,
    slot INTEGER NOT NULL,
    owner TEXT NOT NULL,
    expires_at {bigint} NOT NULL,
    acquired_at {bigint} NOT NULL,
    PRIMARY KEY (connector, slot)
);
CREATE INDEX bind_leases_owner ON bind_leases (owner);

-- The hosts that want binds of a connector (heartbeats with the same lease): each takes its fair share,
-- ceil(binds / live candidates), so that binds spread over the hosts and move to a host that joins.
CREATE TABLE bind_candidates (
    connector TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires_at {bigint} NOT NULL,
    PRIMARY KEY (connector, owner)
);
