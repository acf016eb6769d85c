-- Short-lived notes kept on the server for one session, so that nothing
-- personal travels in a URL or a cookie: what a staff member typed into a
-- form that was refused (to fill it in again, read once), and the result of a
-- bulk action (shown again on refresh, without doing it twice). They go with
-- their session and expire within the hour.
CREATE TABLE session_notes (
    id TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX session_notes_session ON session_notes(session_id);
CREATE INDEX session_notes_expires ON session_notes(expires_at);
