-- 0001: papers with a full-text index, feeds, the delivery outbox, and source runs.
--
-- One row per paper, keyed by its version-less arXiv id, whichever source saw it first.
-- `pk` is the integer the full-text index points at; `id` is what everyone else uses.
CREATE TABLE papers (
    pk              INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    version         INTEGER,
    title           TEXT NOT NULL,
    abstract        TEXT NOT NULL DEFAULT '',
    authors         TEXT NOT NULL DEFAULT '[]',   -- JSON array, in the paper's order
    author_text     TEXT NOT NULL DEFAULT '',     -- the same names joined for the full-text index
    categories      TEXT NOT NULL DEFAULT '[]',   -- JSON array, primary first
    published       TEXT,                         -- ISO-8601 UTC; first version
    updated         TEXT,                         -- ISO-8601 UTC; latest version
    doi             TEXT,
    journal_ref     TEXT,
    comments        TEXT,
    upvotes         INTEGER,                      -- Hugging Face signals; NULL = unknown
    num_comments    INTEGER,
    github_repo     TEXT,
    github_stars    INTEGER,
    project_page    TEXT,
    ai_summary      TEXT,
    ai_keywords     TEXT NOT NULL DEFAULT '[]',
    thumbnail       TEXT,
    organization    TEXT,
    hf_submitted_at TEXT,
    sources         TEXT NOT NULL DEFAULT '',     -- comma-separated, sorted: "arxiv,huggingface"
    first_seen      TEXT NOT NULL,
    changed_at      TEXT NOT NULL                 -- last time a feed-relevant field changed
);
CREATE INDEX papers_published ON papers (published);
CREATE INDEX papers_hf_submitted ON papers (hf_submitted_at) WHERE hf_submitted_at IS NOT NULL;

-- Categories again, one row each, so `cat:` filters use an index instead of scanning JSON.
CREATE TABLE paper_categories (
    paper_pk  INTEGER NOT NULL REFERENCES papers (pk) ON DELETE CASCADE,
    category  TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (category, paper_pk)
) WITHOUT ROWID;
CREATE INDEX paper_categories_paper ON paper_categories (paper_pk);

-- The full-text index reads its text from `papers` (external content) and is kept in step by
-- triggers. Porter stemming over unicode61 makes "causal" find "causality"; bm25 weights are
-- given at query time (title > authors > abstract).
CREATE VIRTUAL TABLE papers_fts USING fts5 (
    title, author_text, abstract,
    content = 'papers', content_rowid = 'pk',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN
    INSERT INTO papers_fts (rowid, title, author_text, abstract)
    VALUES (new.pk, new.title, new.author_text, new.abstract);
END;
CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN
    INSERT INTO papers_fts (papers_fts, rowid, title, author_text, abstract)
    VALUES ('delete', old.pk, old.title, old.author_text, old.abstract);
END;
-- Only text changes touch the index; upvote updates leave it alone.
CREATE TRIGGER papers_fts_update AFTER UPDATE OF title, author_text, abstract ON papers BEGIN
    INSERT INTO papers_fts (papers_fts, rowid, title, author_text, abstract)
    VALUES ('delete', old.pk, old.title, old.author_text, old.abstract);
    INSERT INTO papers_fts (rowid, title, author_text, abstract)
    VALUES (new.pk, new.title, new.author_text, new.abstract);
END;

-- A feed: a query bound to a channel. Names are unique per guild (config feeds: guild unknown
-- until Discord tells us, so they are unique among themselves).
CREATE TABLE feeds (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    guild_id      INTEGER,
    channel_id    INTEGER NOT NULL,
    query         TEXT NOT NULL,
    categories    TEXT NOT NULL DEFAULT '[]',
    sources       TEXT NOT NULL DEFAULT '["huggingface","arxiv"]',
    min_upvotes   INTEGER NOT NULL DEFAULT 0,
    mode          TEXT NOT NULL DEFAULT 'instant' CHECK (mode IN ('instant', 'digest')),
    digest_time   TEXT NOT NULL DEFAULT '09:00',
    digest_size   INTEGER NOT NULL DEFAULT 10,
    backfill      INTEGER NOT NULL DEFAULT 3,
    origin        TEXT NOT NULL DEFAULT 'discord' CHECK (origin IN ('config', 'discord')),
    paused        INTEGER NOT NULL DEFAULT 0,
    pause_reason  TEXT,
    created_at    TEXT NOT NULL,
    last_post_at  TEXT,
    last_digest_on TEXT                           -- UTC date of the last digest posted
);
CREATE UNIQUE INDEX feeds_name ON feeds (coalesce(guild_id, 0), name);
CREATE INDEX feeds_channel ON feeds (channel_id);

-- The outbox: one row per (feed, paper), ever. The unique key is what makes a paper reach a
-- feed at most once, across sources, versions and restarts.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    feed_id     INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    paper_id    TEXT NOT NULL REFERENCES papers (id),
    state       TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
    queued_at   TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    nonce       TEXT,
    message_id  INTEGER,
    error       TEXT,
    sent_at     TEXT,
    UNIQUE (feed_id, paper_id)
);
CREATE INDEX deliveries_due ON deliveries (state, id) WHERE state IN ('queued', 'sending');

-- Every poll of every source, for health and /status.
CREATE TABLE source_runs (
    id           INTEGER PRIMARY KEY,
    source       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT NOT NULL,
    fetched      INTEGER NOT NULL DEFAULT 0,
    new          INTEGER NOT NULL DEFAULT 0,
    updated      INTEGER NOT NULL DEFAULT 0,
    error        TEXT
);
CREATE INDEX source_runs_source ON source_runs (source, id);

-- Small key/value state for sources (ETag, Last-Modified) that must survive restarts.
CREATE TABLE source_state (
    source  TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (source, key)
) WITHOUT ROWID;
