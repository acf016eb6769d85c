//! Static files from assets/, embedded in the binary and served from memory
//! with an ETag, so no CDN and no disk read per request.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::state::{embedded, AppState};

pub struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    etag: String,
}

pub struct Assets {
    files: HashMap<&'static str, Asset>,
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

/// FNV-1a, enough to tell two versions of a file apart.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
}

impl Assets {
    pub fn load() -> Assets {
        let files = embedded::ASSETS
            .iter()
            .map(|(name, body)| {
                let asset = Asset {
                    body,
                    content_type: content_type(name),
                    etag: format!("\"{:016x}\"", fingerprint(body)),
                };
                (*name, asset)
            })
            .collect();
        Assets { files }
    }
}

pub async fn serve(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let Some(asset) = state.assets.files.get(path.as_str()) else {
        return HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("not found");
    };
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == asset.etag);
    let mut builder = if not_modified { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    builder
        .insert_header((header::ETAG, asset.etag.clone()))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"));
    if not_modified {
        builder.finish()
    } else {
        builder.content_type(asset.content_type).body(asset.body)
    }
}
