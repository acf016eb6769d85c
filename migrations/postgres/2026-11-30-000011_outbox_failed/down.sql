-- Failed messages go back to the queue: the old schema only knows pending and sent.
UPDATE outbox SET status = 'pending' WHERE status = 'failed';
ALTER TABLE outbox DROP COLUMN failed_at;
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check CHECK (status IN ('pending', 'sent'));
