-- 0003: several processes on one database (issue 15).
--
-- `cluster_processes` holds each running process's last heartbeat: its roles, shards, host, pid
-- and version; a row whose beat is old is a silent (probably dead) process, shown as such.
-- `cluster_leases` names the one process that polls a source: a lease has an owner, an expiry
-- on the database's clock and an epoch that grows with every new owner (a fencing token).
-- Correctness never rests on a lease: unique keys absorb a poll made twice.
CREATE TABLE cluster_processes (
    id          text PRIMARY KEY,                -- "host:pid:start"
    roles       text NOT NULL,                   -- "poller" or "gateway,publisher"
    shards      text NOT NULL DEFAULT '',        -- "0-3/8"
    host        text NOT NULL,
    pid         integer NOT NULL,
    version     text NOT NULL,
    started_at  timestamptz NOT NULL,
    last_beat   timestamptz NOT NULL
);

CREATE TABLE cluster_leases (
    name        text PRIMARY KEY,                -- "poll:huggingface"
    owner       text NOT NULL,
    epoch       bigint NOT NULL,
    expires_at  timestamptz NOT NULL
);
