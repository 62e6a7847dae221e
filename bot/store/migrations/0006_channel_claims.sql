-- 0005: which publisher sends to which channel now (issue 15; PostgreSQL's 0003).
--
-- A publisher claims a channel before it sends there, until `expires_at`, and renews the claim
-- while it works: one channel is in flight in one process at a time, which keeps its order and
-- its pacing. A claim that expires (its publisher crashed) may be taken by another publisher,
-- which reconciles the attempts left in flight. On SQLite one process holds every claim.
CREATE TABLE channel_claims (
    channel_id  INTEGER PRIMARY KEY,
    owner       TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
