-- octogate schema, version 52 (PostgreSQL only): room on each page of message_parts for its rows' receipts.
-- A part is inserted at submit and updated once, by its final receipt, in columns no index holds: the update is
-- HOT (no new primary-key entry, the old version pruned in place) when the row's page has room for the new
-- version. At the default fillfactor (100) the pages were full: 34 % of receipts HOT on bench/pipeline.py
-- --postgres; 70 % at fillfactor 70, 83 % at 60, 99 % at 50. The price: the table's pages half full (the
-- final versions are a little longer than the inserted ones, so the settled table is about 1.7 times as big).
{postgresql_only} ALTER TABLE message_parts SET (fillfactor = 50);
