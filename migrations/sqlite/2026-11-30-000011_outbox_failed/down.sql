-- Failed messages go back to the queue: the old schema only knows pending and sent.
CREATE TABLE outbox_old (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
INSERT INTO outbox_old (id, user_id, kind, recipient, subject, body_text, body_html, status, attempts, next_attempt_at, last_error, created_at, sent_at)
    SELECT id, user_id, kind, recipient, subject, body_text, body_html,
           CASE status WHEN 'failed' THEN 'pending' ELSE status END,
           attempts, next_attempt_at, last_error, created_at, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_old RENAME TO outbox;
CREATE INDEX outbox_due_idx ON outbox(status, next_attempt_at);
CREATE INDEX outbox_user_idx ON outbox(user_id, created_at);
