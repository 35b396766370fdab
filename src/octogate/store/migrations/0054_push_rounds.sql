-- octogate schema, version 54: the operator's retry starts a new round of backoff.
-- `octogate callbacks --retry` (and the console's retry) gave a failed push a fresh retry horizon, but its next
-- delay was still counted from every attempt it ever made: after a failure the next try came the longest backoff
-- later. round_from: the attempts made before the operator's last retry; the backoff counts the attempts after it.
ALTER TABLE callbacks ADD COLUMN round_from INTEGER NOT NULL DEFAULT 0;
