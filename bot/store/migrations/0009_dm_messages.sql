-- 0009: what a planned DM message says besides its papers (PostgreSQL's 0011).
--
-- A planned message is sent again after a crash, and must then be the message first built: its
-- text (the heading on the first message, "…and N more matched" on the last; NULL for none)
-- and its papers' order (`items`: the dm_queue ids, a JSON array in the message's order) are
-- kept here from the plan until the message is settled (sent, failed, refused or dropped).
-- Messages planned before this migration have no row and are rebuilt as before.
CREATE TABLE dm_messages (
    nonce    TEXT PRIMARY KEY,
    content  TEXT,
    items    TEXT NOT NULL
);
