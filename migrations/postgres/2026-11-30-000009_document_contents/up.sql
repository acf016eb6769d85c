-- Uploaded documents live in the database, encrypted (AES-256-GCM) under a
-- key that is not the database's, so every instance and every backup has
-- them and neither reveals them.
CREATE TABLE document_contents (
    document_id TEXT PRIMARY KEY NOT NULL REFERENCES application_documents(id) ON DELETE CASCADE,
    key_id TEXT NOT NULL,
    nonce BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL
);
CREATE INDEX document_contents_key ON document_contents(key_id);
