-- A message the mail server refused for good (5xx), or that failed
-- OUTBOX_MAX_ATTEMPTS times, ends as 'failed' with its reason for staff.
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check CHECK (status IN ('pending', 'sent', 'failed'));
ALTER TABLE outbox ADD COLUMN failed_at TIMESTAMP;
