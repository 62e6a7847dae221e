-- 0003: many publishers (issue 15; SQLite's 0005 has the claims only).
--
-- `channel_claims`: a publisher claims a channel before it sends there, until `expires_at`,
-- and renews the claim while it works, so one channel is in flight in one process at a time
-- (its order and its pacing kept). Claims are taken with FOR UPDATE SKIP LOCKED; one that
-- expired (its publisher crashed) is taken over, and the new owner reconciles the attempts
-- left in flight by the nonce and the channel look-up.
-- `rest_budget`: a token bucket shared by every process, so that all publishers together stay
-- under Discord's global limit of 50 requests per second; timed by the server's clock.
-- `deliveries_unsent`: claims walk unsent deliveries oldest first and stop early.
CREATE INDEX deliveries_unsent ON deliveries (id) WHERE state IN ('queued', 'sending');

CREATE TABLE channel_claims (
    channel_id  bigint PRIMARY KEY,
    owner       text NOT NULL,
    expires_at  timestamptz NOT NULL
);

CREATE TABLE rest_budget (
    name        text PRIMARY KEY,
    tokens      double precision NOT NULL,
    updated_at  timestamptz NOT NULL
);
