-- 0003: personal follows delivered by DM (issue 16; SQLite's 0005).
--
-- `follows`: a member's queries, names unique per member. `dm_queue`: papers owed to members,
-- each (member, paper) once ever whichever of their follows matched it; `nonce` is set when an
-- item is planned into a message (before any send), so a crash leaves a trace to reconcile and
-- the same message is sent again with the same nonce. `dm_members`: per-member state: the day
-- of the last daily DM (never two a day) and the notice owed at their next command.
CREATE TABLE follows (
    id            bigserial PRIMARY KEY,
    user_id       bigint NOT NULL,
    name          text NOT NULL,
    query         text NOT NULL,
    mode          text NOT NULL DEFAULT 'daily' CHECK (mode IN ('daily', 'instant')),
    time          text NOT NULL DEFAULT '08:00',
    min_upvotes   integer NOT NULL DEFAULT 0,
    paused        boolean NOT NULL DEFAULT false,
    pause_reason  text,
    created_at    timestamptz NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE dm_queue (
    id            bigserial PRIMARY KEY,
    user_id       bigint NOT NULL,
    paper_id      text NOT NULL REFERENCES papers (id),
    follow_id     bigint REFERENCES follows (id) ON DELETE SET NULL,
    mode          text NOT NULL CHECK (mode IN ('daily', 'instant')),
    relevance     integer NOT NULL DEFAULT 1,
    state         text NOT NULL DEFAULT 'queued',
    queued_at     timestamptz NOT NULL,
    nonce         text,
    attempted_at  timestamptz,
    next_attempt_at timestamptz,
    message_id    bigint,
    sent_at       timestamptz,
    error         text,
    UNIQUE (user_id, paper_id)
);
CREATE INDEX dm_queue_waiting ON dm_queue (state, user_id) WHERE state IN ('queued', 'sending');
CREATE INDEX dm_queue_nonce ON dm_queue (nonce) WHERE nonce IS NOT NULL;

CREATE TABLE dm_members (
    user_id        bigint PRIMARY KEY,
    last_daily_on  text,                        -- YYYY-MM-DD of the last daily DM (or empty day)
    notice         text                         -- told at the member's next command, then cleared
);
