-- Retention of personal data: the periods the city sets (one row; defaults
-- apply until it is written), the log of every run, and a mark on an
-- application whose personal fields were blanked (it still counts).
CREATE TABLE retention_settings (
    id TEXT PRIMARY KEY NOT NULL CHECK (id = 'retention'),
    applications_days INTEGER NOT NULL,
    sessions_days INTEGER NOT NULL,
    password_resets_days INTEGER NOT NULL,
    signups_days INTEGER NOT NULL,
    outbox_days INTEGER NOT NULL,
    access_log_days INTEGER NOT NULL CHECK (access_log_days >= 730),
    updated_at TIMESTAMP NOT NULL
);

-- scheduled_day is set for the daily scheduled run only: unique, so one
-- instance runs it a day. Removing the access log's oldest rows keeps the
-- last removed row's number and hash, where the chain now starts.
CREATE TABLE retention_runs (
    id TEXT PRIMARY KEY NOT NULL,
    started_at TIMESTAMP NOT NULL,
    as_of DATE NOT NULL,
    trigger_kind TEXT NOT NULL,
    actor_id TEXT,
    scheduled_day DATE UNIQUE,
    applications INTEGER NOT NULL DEFAULT 0,
    documents INTEGER NOT NULL DEFAULT 0,
    sessions INTEGER NOT NULL DEFAULT 0,
    password_resets INTEGER NOT NULL DEFAULT 0,
    signups INTEGER NOT NULL DEFAULT 0,
    outbox INTEGER NOT NULL DEFAULT 0,
    access_log INTEGER NOT NULL DEFAULT 0,
    access_log_through_seq BIGINT,
    access_log_through_hash TEXT
);
CREATE INDEX retention_runs_started ON retention_runs(started_at);

ALTER TABLE applications ADD COLUMN anonymised_at TIMESTAMP;
