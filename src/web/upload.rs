//! Reading a multipart form with one file and a CSRF token, with a size cap:
//! past the cap the rest is drained and dropped, so the browser still gets
//! our page rather than a connection reset.

use actix_multipart::Multipart;
use futures_util::StreamExt;

use crate::error::AppError;

pub struct Upload {
    pub csrf_token: String,
    /// The optional `kind` field (which document this is).
    pub kind: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
    /// The file was larger than allowed (its bytes were dropped).
    pub truncated: bool,
}

const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

pub async fn read_file(mut payload: Multipart, file_field: &str, max_bytes: usize) -> Result<Upload, AppError> {
    let mut up = Upload { csrf_token: String::new(), kind: String::new(), file_name: String::new(), bytes: vec![], truncated: false };
    let mut seen = 0usize;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|_| AppError::BadRequest("errors.bad_form"))?;
        let name = field.name().unwrap_or_default().to_string();
        let is_file = name == file_field;
        if is_file {
            up.file_name = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .map(crate::applications::documents::clean_name)
                .unwrap_or_default();
        }
        let mut text = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| AppError::BadRequest("errors.bad_form"))?;
            seen += chunk.len();
            if seen > DRAIN_LIMIT {
                return Err(AppError::BadRequest("errors.too_large"));
            }
            if is_file && !up.truncated {
                if up.bytes.len() + chunk.len() > max_bytes {
                    up.truncated = true;
                    up.bytes = vec![];
                } else {
                    up.bytes.extend_from_slice(&chunk);
                }
            } else if (name == "csrf_token" || name == "kind") && text.len() < 256 {
                text.extend_from_slice(&chunk);
            }
        }
        if name == "csrf_token" {
            up.csrf_token = String::from_utf8_lossy(&text).trim().to_string();
        } else if name == "kind" {
            up.kind = String::from_utf8_lossy(&text).trim().to_string();
        }
    }
    Ok(up)
}
