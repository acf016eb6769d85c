-- Staff accesses are appended here with a plain INSERT (no read of the
-- previous row, so page views do not queue behind one another); the
-- background worker moves them into access_log in batches, numbering and
-- hash-chaining them in order, within seconds.
CREATE TABLE access_log_pending (
    id TEXT PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    actor_id TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    ip TEXT NOT NULL,
    subject_user_id TEXT,
    record_id TEXT,
    action TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_log_pending_order ON access_log_pending(at, id);

-- One row, updated first by every chaining batch: its row lock (PostgreSQL;
-- on SQLite the write lock) lets one chainer at a time extend the chain,
-- whatever the number of instances.
CREATE TABLE access_log_chainer (
    id INTEGER PRIMARY KEY NOT NULL,
    batches BIGINT NOT NULL,
    chained_at TIMESTAMP
);
INSERT INTO access_log_chainer (id, batches) VALUES (1, 0);
