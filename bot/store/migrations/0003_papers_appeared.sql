-- 0003: an index on when a paper appeared (published, else first seen).
--
-- Search orders by coalesce(published, first_seen) when a query has only cat: filters (newest
-- first) or asks for --sort recent, and filters by it for --since windows and a new feed's
-- backfill; `recent_papers` does both. Without this index each of those reads every paper
-- (seconds at a million papers); with it they walk the newest entries and stop.
CREATE INDEX papers_appeared ON papers (coalesce(published, first_seen));
