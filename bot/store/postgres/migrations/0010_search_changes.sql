-- 0010: what a process's local search index reads to catch up (issue 19; SQLite's 0007).
--
-- On PostgreSQL every process that answers searches keeps its own Tantivy index on its own
-- disk, so the changes cannot be a log that readers prune: each reader remembers how far it
-- has read, and the order must be one no reader can overtake. A sequence is not such an order:
-- its numbers are handed out before commit, so a reader can see 11 committed while 10's
-- transaction is still open, move past 10, and never see it. Instead each row records the id
-- of the transaction that last wrote an indexed field (`change_xid`, pg_current_xact_id(),
-- 64 bits, never wraps), and a reader advances only to just below the oldest transaction
-- still running (pg_snapshot_xmin of its snapshot): every transaction below that has ended,
-- so no row marked below it can become visible later. Reading past it is harmless too (a
-- paper is deleted from the index by key and added again), only the watermark must wait.
--
-- Triggers set the mark, so no write bypasses it: an insert, and an update that changes a
-- field the index holds (text, categories, when the paper appeared, whether Hugging Face
-- knows it), as SQLite's search_changes triggers. Rows written before this migration keep a
-- NULL mark: an index is built by reading every paper, so it holds them anyway. Measured
-- (bench/pg_change_marks.py, docs/benchmarks.md): the insert trigger adds ~6-9 us a row on the
-- server, a few per cent of a bulk import, against a column default that an explicit value
-- would bypass.
-- Deleted papers leave a tombstone, marked the same way and read the same way (the bot never
-- deletes papers; an operator's DELETE must still not leave ghosts in the indexes).
ALTER TABLE papers ADD COLUMN change_xid xid8;
CREATE INDEX papers_change_xid ON papers (change_xid);

CREATE FUNCTION papers_mark_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_xid := pg_current_xact_id();
    RETURN NEW;
END
$$;
CREATE TRIGGER papers_change_insert BEFORE INSERT ON papers
    FOR EACH ROW EXECUTE FUNCTION papers_mark_change();
CREATE TRIGGER papers_change_update BEFORE UPDATE ON papers
    FOR EACH ROW
    WHEN (old.title IS DISTINCT FROM new.title OR old.author_text IS DISTINCT FROM new.author_text
        OR old.abstract IS DISTINCT FROM new.abstract
        OR old.categories IS DISTINCT FROM new.categories
        OR old.published IS DISTINCT FROM new.published
        OR old.first_seen IS DISTINCT FROM new.first_seen
        OR (old.upvotes IS NULL) <> (new.upvotes IS NULL)
        OR old.change_xid IS DISTINCT FROM new.change_xid)
    EXECUTE FUNCTION papers_mark_change();

CREATE TABLE paper_tombstones (
    paper_pk    bigint NOT NULL,
    change_xid  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    deleted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX paper_tombstones_change_xid ON paper_tombstones (change_xid);

CREATE FUNCTION papers_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO paper_tombstones (paper_pk) SELECT pk FROM gone;
    RETURN NULL;
END
$$;
CREATE TRIGGER papers_change_delete AFTER DELETE ON papers
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION papers_tombstone();

-- What answers each process's searches, as its heartbeat last said (`status` shows it): NULL for
-- a process that answers none; else {"engine": "tantivy" | "postgresql", "index": "ready" |
-- "building" | "none", "papers", "seconds_behind", "slot"}.
ALTER TABLE cluster_processes ADD COLUMN search jsonb;
