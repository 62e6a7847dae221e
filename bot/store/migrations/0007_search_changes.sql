-- 0007: the papers' change log, read by the search index (issue 19).
--
-- The search index (bot/store/tantivy_index.py) lives beside the database file and is not
-- part of its transactions: it reads this log in order and remembers how far it has read.
-- Triggers fill the log, so no write can bypass it: a paper inserted, deleted, or changed in a
-- field the index holds (text, categories, when it appeared, whether Hugging Face knows it)
-- adds its key once more. The index prunes what it has applied; a crash between a database
-- commit and an index commit leaves the rows here for the next start to apply.
CREATE TABLE search_changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    paper_pk  INTEGER NOT NULL
);
CREATE TRIGGER search_changes_insert AFTER INSERT ON papers BEGIN
    INSERT INTO search_changes (paper_pk) VALUES (new.pk);
END;
CREATE TRIGGER search_changes_delete AFTER DELETE ON papers BEGIN
    INSERT INTO search_changes (paper_pk) VALUES (old.pk);
END;
CREATE TRIGGER search_changes_update AFTER UPDATE ON papers
WHEN old.title IS NOT new.title OR old.author_text IS NOT new.author_text
    OR old.abstract IS NOT new.abstract OR old.categories IS NOT new.categories
    OR old.published IS NOT new.published OR old.first_seen IS NOT new.first_seen
    OR (old.upvotes IS NULL) != (new.upvotes IS NULL)
BEGIN
    INSERT INTO search_changes (paper_pk) VALUES (new.pk);
END;
