-- 0002: retry bookkeeping for the outbox and the channel a delivery landed in.
--
-- A delivery that failed for a transient reason (5xx, timeout) goes back to the queue with a
-- time before which it is not tried again, so one broken channel or a Discord outage backs off
-- instead of spinning. `thread_id` records the forum post (thread) created for a delivery.
ALTER TABLE deliveries ADD COLUMN next_attempt_at TEXT;
ALTER TABLE deliveries ADD COLUMN thread_id INTEGER;
ALTER TABLE deliveries ADD COLUMN attempted_at TEXT;
