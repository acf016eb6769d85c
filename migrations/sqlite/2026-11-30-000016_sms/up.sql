-- Notices by SMS as well as email: each outbox message has a channel, and each
-- resident chooses hers. Only a mobile number proven by a code sent to it
-- (users.mobile) ever receives notices; the code is kept as its keyed hash.
ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'email' CHECK (channel IN ('email', 'sms'));
ALTER TABLE users ADD COLUMN notify_channels TEXT NOT NULL DEFAULT 'email' CHECK (notify_channels IN ('email', 'sms', 'both'));
ALTER TABLE users ADD COLUMN mobile TEXT;
ALTER TABLE signups ADD COLUMN notify_channels TEXT NOT NULL DEFAULT 'email';
CREATE TABLE mobile_verifications (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    mobile TEXT NOT NULL,
    channels TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    sends INTEGER NOT NULL DEFAULT 1,
    sent_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
