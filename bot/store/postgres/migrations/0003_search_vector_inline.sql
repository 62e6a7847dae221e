-- 0003: keep each paper's tsvector in its row (issue 14, search at 1M papers).
--
-- A paper's row (abstract ~1 KB, tsvector ~1.7 KB) is past the 2 KB TOAST threshold, and by
-- default PostgreSQL moved the tsvector out of line: every `@@` test on a row then fetched it
-- from the TOAST table, and walking the newest papers for a search's candidates cost ~7 us a
-- row. STORAGE MAIN keeps the vector in the row (compressed if need be) and lets the abstract
-- go out of line instead: measured 4x faster walks (docs/benchmarks.md). Rows written before
-- this migration keep their layout until rewritten (`VACUUM FULL papers`).
ALTER TABLE papers ALTER COLUMN search SET STORAGE MAIN;
