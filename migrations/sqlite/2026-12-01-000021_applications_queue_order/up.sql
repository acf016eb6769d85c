-- The staff queue lists applications oldest submission first, 50 a page
-- (ORDER BY submitted_at, reference). Without a status filter it sorted every
-- application of the program to show the first 50 (10,000 applications:
-- 15.6 ms for the query alone on SQLite, p50 41 ms for the page under the
-- benchmark's mix); these indexes give the rows in that order, for all
-- statuses but drafts and for one status.
DROP INDEX applications_queue;
CREATE INDEX applications_queue ON applications(program_id, status, submitted_at, reference);
CREATE INDEX applications_queue_order ON applications(program_id, submitted_at, reference);
