//! Uploaded proof documents: at most 10 MB, PDF, JPEG or PNG judged by
//! content, stored in the database encrypted with AES-256-GCM under
//! DOCUMENT_KEY (not the database's key), bound to their record.

use std::path::{Path, PathBuf};

use diesel::prelude::*;

use crate::crypto::{DocumentKeys, Sealed};
use crate::db::schema::{application_documents, document_contents};
use crate::db::{write_tx, DbConn};
use crate::error::AppError;

pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// The type of a file from its first bytes, never from its name.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else {
        None
    }
}

/// Checks an upload; returns its content type or a catalog key.
pub fn validate(bytes: &[u8], truncated: bool) -> Result<&'static str, &'static str> {
    if truncated || bytes.len() > MAX_BYTES {
        return Err("documents.errors.too_big");
    }
    if bytes.is_empty() {
        return Err("documents.errors.empty");
    }
    sniff(bytes).ok_or("documents.errors.wrong_type")
}

/// Where earlier versions kept uploads as plain files (moved into the
/// database at start, see `move_files_into_database`).
pub fn uploads_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("uploads")
}

/// Stores a sealed document beside its record (in the caller's transaction).
pub fn insert_sealed(conn: &mut DbConn, document_id: &str, sealed: &Sealed) -> Result<(), AppError> {
    diesel::insert_into(document_contents::table)
        .values((
            document_contents::document_id.eq(document_id),
            document_contents::key_id.eq(&sealed.key_id),
            document_contents::nonce.eq(&sealed.nonce),
            document_contents::ciphertext.eq(&sealed.ciphertext),
        ))
        .execute(conn)?;
    Ok(())
}

/// A document's bytes, opened and checked.
pub fn content(conn: &mut DbConn, keys: &DocumentKeys, document_id: &str) -> Result<Vec<u8>, AppError> {
    let (key_id, nonce, ciphertext): (String, Vec<u8>, Vec<u8>) = document_contents::table
        .find(document_id)
        .select((document_contents::key_id, document_contents::nonce, document_contents::ciphertext))
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::Internal("document content missing".into()))?;
    keys.open(&key_id, &nonce, document_id.as_bytes(), &ciphertext).map_err(AppError::Internal)
}

/// Moves the plain files earlier versions wrote under DATA_DIR/uploads into
/// the database, sealed; each file is removed once its row is committed.
/// Returns how many were moved.
pub fn move_files_into_database(conn: &mut DbConn, keys: &DocumentKeys, data_dir: &Path) -> Result<usize, AppError> {
    let dir = uploads_dir(data_dir);
    if !dir.exists() {
        return Ok(0);
    }
    let without: Vec<(String, String)> = application_documents::table
        .left_join(document_contents::table)
        .filter(document_contents::document_id.is_null())
        .select((application_documents::id, application_documents::storage_name))
        .load(conn)?;
    let mut moved = 0;
    for (id, storage_name) in without {
        // Storage names are generated hex; anything else is not ours to read.
        if !storage_name.chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        let path = dir.join(&storage_name);
        let Ok(bytes) = std::fs::read(&path) else {
            tracing::warn!(document = %id, "document file not found on this instance; it stays unreadable until moved from where it is");
            continue;
        };
        let sealed = keys.seal(id.as_bytes(), &bytes).map_err(AppError::Internal)?;
        write_tx(conn, |conn| insert_sealed(conn, &id, &sealed))?;
        let _ = std::fs::remove_file(&path);
        moved += 1;
    }
    Ok(moved)
}

/// Re-encrypts every document sealed under an older key with the current
/// one (after DOCUMENT_KEY changed and the old key went to
/// DOCUMENT_KEYS_OLD). Each document in its own short transaction, so the
/// app keeps serving. Returns how many were re-encrypted.
pub fn rotate(conn: &mut DbConn, keys: &DocumentKeys) -> Result<usize, AppError> {
    let current = keys.current_id();
    let stale: Vec<String> = document_contents::table
        .filter(document_contents::key_id.ne(&current))
        .select(document_contents::document_id)
        .load(conn)?;
    for id in &stale {
        let plain = content(conn, keys, id)?;
        let sealed = keys.seal(id.as_bytes(), &plain).map_err(AppError::Internal)?;
        write_tx(conn, |conn| {
            // Only if nobody rotated it meanwhile (another instance).
            diesel::update(document_contents::table.find(id).filter(document_contents::key_id.ne(&current)))
                .set((
                    document_contents::key_id.eq(&sealed.key_id),
                    document_contents::nonce.eq(&sealed.nonce),
                    document_contents::ciphertext.eq(&sealed.ciphertext),
                ))
                .execute(conn)?;
            Ok(())
        })?;
    }
    Ok(stale.len())
}

/// A display name for the upload: the base name, without control characters.
pub fn clean_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = base.chars().filter(|c| !c.is_control() && *c != '"').take(100).collect();
    if cleaned.trim().is_empty() {
        "document".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_judged_by_content() {
        assert_eq!(validate(b"%PDF-1.7\n...", false), Ok("application/pdf"));
        assert_eq!(validate(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0], false), Ok("image/jpeg"));
        assert_eq!(validate(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0], false), Ok("image/png"));
        assert_eq!(validate(b"MZ\x90\x00 not a pdf", false), Err("documents.errors.wrong_type"));
        assert_eq!(validate(b"", false), Err("documents.errors.empty"));
        assert_eq!(validate(&vec![b'%'; MAX_BYTES + 1], false), Err("documents.errors.too_big"));
        assert_eq!(validate(b"%PDF-", true), Err("documents.errors.too_big"));
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("C:\\Users\\me\\임신확인서.pdf"), "임신확인서.pdf");
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("\u{0}"), "document");
    }
}
