-- 0002: backlog versus news, and warnings apart from failures (issue 12; SQLite's 0004).
--
-- `listings_seen` remembers every listing the bot has read (a source, or one arXiv category):
-- what a listing shows the first time it is seen is backlog, not news. A database that already
-- polled is seeded with "<source>/*", meaning "every listing this source had then": its next
-- poll records the listings by name and drops the wildcard, so an upgrade floods nothing and
-- drops no news.
-- `feeds.backfill_used` counts the old papers a feed has had (at creation, then from backlog),
-- so `backfill` bounds them all together; existing feeds had theirs when they were created.
-- `source_runs.warnings` counts items skipped or fields ignored by a poll that still worked.
-- `source_warnings` holds the warnings of each source's last poll, so each is logged once.
CREATE TABLE listings_seen (
    listing   text PRIMARY KEY,                  -- "huggingface", "arxiv/cs.LG", "arxiv/*"
    seen_at   timestamptz NOT NULL
);
INSERT INTO listings_seen (listing, seen_at)
    SELECT source || '/*', min(finished_at) FROM source_runs WHERE fetched > 0 GROUP BY source;

ALTER TABLE feeds ADD COLUMN backfill_used integer NOT NULL DEFAULT 0;
UPDATE feeds SET backfill_used = backfill;

ALTER TABLE source_runs ADD COLUMN warnings integer NOT NULL DEFAULT 0;

CREATE TABLE source_warnings (
    source    text NOT NULL,
    key       text NOT NULL,                     -- the warning without page or position
    seen_at   timestamptz NOT NULL,
    PRIMARY KEY (source, key)
);
