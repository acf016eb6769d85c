DROP INDEX applications_queue_order;
DROP INDEX applications_queue;
CREATE INDEX applications_queue ON applications(program_id, status, submitted_at);
