-- 0005: personal follows delivered by DM (issue 16).
--
-- `follows`: a member's queries, names unique per member. `dm_queue`: papers owed to members,
-- each (member, paper) once ever whichever of their follows matched it; `nonce` is set when an
-- item is planned into a message (before any send), so a crash leaves a trace to reconcile and
-- the same message is sent again with the same nonce. `dm_members`: per-member state: the day
-- of the last daily DM (never two a day) and the notice owed at their next command.
CREATE TABLE follows (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL,
    name          TEXT NOT NULL,
    query         TEXT NOT NULL,
    mode          TEXT NOT NULL DEFAULT 'daily' CHECK (mode IN ('daily', 'instant')),
    time          TEXT NOT NULL DEFAULT '08:00',
    min_upvotes   INTEGER NOT NULL DEFAULT 0,
    paused        INTEGER NOT NULL DEFAULT 0,
    pause_reason  TEXT,
    created_at    TEXT NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE dm_queue (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL,
    paper_id      TEXT NOT NULL REFERENCES papers (id),
    follow_id     INTEGER REFERENCES follows (id) ON DELETE SET NULL,
    mode          TEXT NOT NULL CHECK (mode IN ('daily', 'instant')),
    relevance     INTEGER NOT NULL DEFAULT 1,
    state         TEXT NOT NULL DEFAULT 'queued',
    queued_at     TEXT NOT NULL,
    nonce         TEXT,
    attempted_at  TEXT,
    next_attempt_at TEXT,
    message_id    INTEGER,
    sent_at       TEXT,
    error         TEXT,
    UNIQUE (user_id, paper_id)
);
CREATE INDEX dm_queue_waiting ON dm_queue (state, user_id) WHERE state IN ('queued', 'sending');
CREATE INDEX dm_queue_nonce ON dm_queue (nonce) WHERE nonce IS NOT NULL;

CREATE TABLE dm_members (
    user_id        INTEGER PRIMARY KEY,
    last_daily_on  TEXT,                        -- YYYY-MM-DD of the last daily DM (or empty day)
    notice         TEXT                         -- told at the member's next command, then cleared
);
