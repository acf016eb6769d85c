-- Once a day the access log's tail (last sequence number and hash) is
-- anchored here and emailed to supervisors: deleting the newest rows, which
-- the chain alone cannot show, is then detected.
CREATE TABLE access_log_anchors (
    day DATE PRIMARY KEY NOT NULL,
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
