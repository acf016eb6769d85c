ALTER TABLE applications DROP COLUMN anonymised_at;
DROP TABLE retention_runs;
DROP TABLE retention_settings;
