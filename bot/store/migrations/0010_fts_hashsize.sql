-- 0010: FTS5 keeps up to 32 MiB of new terms in memory before writing them out (default 1 MiB).
--
-- An import's batch of 10,000 papers (~12 MB of text) was written as a dozen small segments
-- that FTS5 then merged again and again; with one segment per batch, an import of 300,000
-- papers without the search index took ~10 % less CPU (bench/fts_hashsize.py). A poll's batch
-- is far smaller, so the memory is only taken by imports. The setting is kept in the table.
INSERT INTO papers_fts (papers_fts, rank) VALUES ('hashsize', 33554432);
