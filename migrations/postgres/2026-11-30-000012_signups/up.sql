-- Sign-ups waiting for their address to be confirmed: the account is created
-- only when the emailed link is used. The token is kept as its keyed hash.
CREATE TABLE signups (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    locale TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX signups_email ON signups(email);
CREATE INDEX signups_expires ON signups(expires_at);
