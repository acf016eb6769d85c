-- The results report's counted figures, maintained per measure, subject and
-- day in the same transaction as each change that moves them, so a report
-- reads O(indicators × periods) rows whatever the history's size.
--   applications_received  subject ''           day: Seoul date of submitted_at
--   applications_approved  subject ''           day: Seoul date of the 'approved' event
--   visits_completed       subject agency id    day: the visit's day
--   visit_hours            subject agency id    day: the visit's day
--   clinic_attended        subject program id   day: the session's day (attended seats + walk-ins)
-- `naju-helper results rebuild` recomputes it from the raw records.
CREATE TABLE result_counts (
    measure TEXT NOT NULL,
    subject TEXT NOT NULL,
    day DATE NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (measure, subject, day)
);

-- Filled from what an existing installation already holds (Seoul is UTC+9, no DST).
INSERT INTO result_counts (measure, subject, day, value)
SELECT 'applications_received', '', date(submitted_at, '+9 hours'), COUNT(*)
FROM applications WHERE submitted_at IS NOT NULL GROUP BY date(submitted_at, '+9 hours');

INSERT INTO result_counts (measure, subject, day, value)
SELECT 'applications_approved', '', date(at, '+9 hours'), COUNT(*)
FROM application_events WHERE action = 'approved' GROUP BY date(at, '+9 hours');

INSERT INTO result_counts (measure, subject, day, value)
SELECT 'visits_completed', COALESCE(agency_id, ''), day, COUNT(*)
FROM visits WHERE status = 'completed' GROUP BY COALESCE(agency_id, ''), day;

INSERT INTO result_counts (measure, subject, day, value)
SELECT 'visit_hours', COALESCE(agency_id, ''), day, SUM(hours)
FROM visits WHERE status = 'completed' GROUP BY COALESCE(agency_id, ''), day;

INSERT INTO result_counts (measure, subject, day, value)
SELECT 'clinic_attended', program_id, day, SUM(people) FROM (
    SELECT b.program_id AS program_id, s.day AS day, b.seats AS people
    FROM clinic_bookings b JOIN clinic_sessions s ON s.id = b.session_id WHERE b.status = 'attended'
    UNION ALL
    SELECT w.program_id, s.day, w.people
    FROM clinic_walkins w JOIN clinic_sessions s ON s.id = w.session_id
) AS attended GROUP BY program_id, day;
