//! Uploaded proof documents (pregnancy confirmation): at most 10 MB, PDF, JPEG
//! or PNG judged by content, stored under DATA_DIR/uploads (outside any web
//! root) under a random name.

use std::io::Write;
use std::path::{Path, PathBuf};

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

pub fn uploads_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("uploads")
}

/// Writes the file completely (fsync) under a temporary name, then renames
/// it, so a crash never leaves half a document under the final name.
pub fn store(data_dir: &Path, bytes: &[u8]) -> std::io::Result<String> {
    let dir = uploads_dir(data_dir);
    std::fs::create_dir_all(&dir)?;
    let name = uuid::Uuid::new_v4().simple().to_string();
    let tmp = dir.join(format!("{name}.part"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(&name))?;
    Ok(name)
}

pub fn remove(data_dir: &Path, storage_name: &str) {
    let _ = std::fs::remove_file(uploads_dir(data_dir).join(storage_name));
}

pub fn read(data_dir: &Path, storage_name: &str) -> std::io::Result<Vec<u8>> {
    // Storage names are generated hex; refuse anything else.
    if !storage_name.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad storage name"));
    }
    std::fs::read(uploads_dir(data_dir).join(storage_name))
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
