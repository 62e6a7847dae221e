-- 0003: the gateway IDENTIFYs of the whole cluster (issue 15, sharded gateways).
--
-- Discord allows one IDENTIFY per 5 s per bucket (`shard_id % max_concurrency`) and about 1000
-- a day across every shard of the bot. Gateway processes on several machines share both
-- limits through these tables: `identify_buckets` holds each bucket's last IDENTIFY (taken
-- under a transaction-level advisory lock per bucket, on the server's clock, so machines'
-- clocks need not agree) and `gateway_identifies` one row per IDENTIFY for the daily count the
-- crash-loop guard reads. Rows older than two days are deleted as new ones come.
CREATE TABLE identify_buckets (
    bucket         integer PRIMARY KEY,          -- shard_id % max_concurrency
    identified_at  timestamptz NOT NULL
);

CREATE TABLE gateway_identifies (
    id         bigserial PRIMARY KEY,
    shard_id   integer NOT NULL,
    holder     text NOT NULL,                    -- "host:pid" of the gateway process
    at         timestamptz NOT NULL
);
CREATE INDEX gateway_identifies_at ON gateway_identifies (at);
