-- A message the mail server refused for good (5xx), or that failed
-- OUTBOX_MAX_ATTEMPTS times, ends as 'failed' with its reason for staff.
-- SQLite cannot change a CHECK constraint in place: rebuild the table.
CREATE TABLE outbox_new (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    failed_at TIMESTAMP
);
INSERT INTO outbox_new (id, user_id, kind, recipient, subject, body_text, body_html, status, attempts, next_attempt_at, last_error, created_at, sent_at)
    SELECT id, user_id, kind, recipient, subject, body_text, body_html, status, attempts, next_attempt_at, last_error, created_at, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due_idx ON outbox(status, next_attempt_at);
CREATE INDEX outbox_user_idx ON outbox(user_id, created_at);
