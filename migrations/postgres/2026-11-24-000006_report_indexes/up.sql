-- The results report counts by date.
CREATE INDEX applications_submitted ON applications(submitted_at);
CREATE INDEX application_events_action_at ON application_events(action, at);
CREATE INDEX clinic_bookings_session_status ON clinic_bookings(session_id, status);
