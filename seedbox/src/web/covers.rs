//! Cover thumbnails: `/c/{name}/cover/{id}` serves the JPEG thumbnail the
//! daemon made of a file's cover (kept in the state folder, see
//! [`crate::meta`]); `/static/nocover.png` is the placeholder shown for
//! files without one.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{error, esc, valid_collection_name, valid_file_id, Shared};
use crate::library::{CollectionSnapshot, FileEntry};
use crate::meta::{THUMB_H, THUMB_W};

/// Largest thumbnail file served (the daemon writes far smaller ones).
const MAX_THUMB: u64 = 2 << 20;

/// The URL of a file's cover thumbnail, when it has one.
pub(crate) fn href(c: &CollectionSnapshot, f: &FileEntry) -> Option<String> {
    f.meta
        .cover
        .as_ref()
        .map(|_| format!("/c/{}/cover/{}", c.name, f.id))
}

/// The `<img>` of a file row: its cover, or the placeholder.
pub(crate) fn img(c: &CollectionSnapshot, f: &FileEntry) -> String {
    let src = href(c, f).unwrap_or_else(|| "/static/nocover.png".into());
    format!(
        "<img class=\"cover\" src=\"{}\" alt=\"\" width=\"40\" height=\"60\" loading=\"lazy\">",
        esc(&src)
    )
}

/// `/c/{name}/cover/{id}`.
pub(super) async fn cover(
    State(st): State<Shared>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    if !valid_collection_name(&name) || !valid_file_id(&id) {
        return error(
            StatusCode::BAD_REQUEST,
            "Bad request: invalid collection or file id.",
        );
    }
    let snap = st.lib.snapshot();
    let Some(p) = snap
        .collection(&name)
        .and_then(|c| c.file(&id))
        .and_then(|f| f.meta.cover.clone())
    else {
        return error(StatusCode::NOT_FOUND, "No cover for this file.");
    };
    let bytes = tokio::task::spawn_blocking(move || crate::meta::read_bounded(&p, MAX_THUMB)).await;
    match bytes {
        // Short-lived: the id stays when the file (and its cover) changes.
        Ok(Some(b)) => image_response(Bytes::from(b), "image/jpeg", "max-age=300"),
        _ => error(StatusCode::NOT_FOUND, "No cover for this file."),
    }
}

/// `/static/nocover.png`: a plain book-shaped placeholder, made once.
pub(super) async fn placeholder() -> Response {
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    let png = PNG.get_or_init(|| {
        let (w, h) = (THUMB_W / 5, THUMB_H / 5);
        let img = image::RgbImage::from_fn(w, h, |x, _| {
            if x < w / 8 {
                image::Rgb([150, 140, 125])
            } else {
                image::Rgb([214, 206, 190])
            }
        });
        let mut out = std::io::Cursor::new(Vec::new());
        // Encoding a small in-memory image cannot fail; an empty body if it did.
        let _ = img.write_to(&mut out, image::ImageFormat::Png);
        out.into_inner()
    });
    image_response(Bytes::from_static(png), "image/png", "max-age=86400")
}

fn image_response(body: Bytes, ctype: &'static str, cache: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}
