-- octogate schema, version 53: a push delivered is recorded in its own row only.
-- Its delivering attempt (the HTTP status the receiver gave, at delivered_at) was a callback_attempts row too:
-- an insert and an index entry for every push, most of them delivered at the first attempt. That attempt is now
-- read from the push's row (attempt = attempts, attempted_at = delivered_at, status_code = delivered_code);
-- callback_attempts keeps the attempts that failed. Pushes delivered before this version keep their rows
-- (delivered_code NULL: nothing is read twice).
ALTER TABLE callbacks ADD COLUMN delivered_code INTEGER;
