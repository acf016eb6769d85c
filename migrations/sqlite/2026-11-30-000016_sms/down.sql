DROP TABLE mobile_verifications;
ALTER TABLE signups DROP COLUMN notify_channels;
ALTER TABLE users DROP COLUMN mobile;
ALTER TABLE users DROP COLUMN notify_channels;
ALTER TABLE outbox DROP COLUMN channel;
