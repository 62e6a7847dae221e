-- 0008: an index of the title words alone (issue 14, `title:` searches at 1M papers).
--
-- The main GIN index ignores weights, so `title:wasserstein` ('wasserstein':A) found every paper
-- with the word anywhere (20,000 at 1M) and rechecked each row's tsvector on the heap for the
-- one in four with it in the title: 150-190 ms. The title part of the same tsvector, indexed on
-- its own, answers a query made only of title terms exactly, without a recheck (~10 ms).
-- `ts_filter(search, '{a}')` is the expression the store's queries use (papers.py).
CREATE INDEX papers_title_search ON papers USING gin (ts_filter(search, '{a}'));
-- Statistics of the new expression, so the planner weighs it from the first search on.
ANALYZE papers;
