-- A resident's own applications (her pages, the clinic booking's due date,
-- her approved application when she books a visit) by user. The only index
-- that starts with user_id, applications_one_open, is partial (open statuses)
-- and cannot serve these queries, which read every application of the
-- program (or of the table) instead.
CREATE INDEX applications_user ON applications(user_id, created_at);
