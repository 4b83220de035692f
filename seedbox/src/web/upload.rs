//! Librarians add files from a browser: `POST /admin/upload/{collection}`
//! with a `multipart/form-data` body (the admin page's upload form), one or
//! more file fields.
//!
//! Allowed like the rest of `/admin` (loopback, or the admin token; checked
//! in the request guard before routing) and only into a local collection's
//! folder ([`Library::upload_folder`](crate::library::Library::upload_folder):
//! never a mirror's). Each file:
//!
//! - has a plain name: one path component, no `/`, `\`, `..`, NUL or other
//!   control character, not hidden, at most 255 bytes; anything else is
//!   refused (`400`), never rewritten into some other name;
//! - must not exist yet (`409`): nothing is ever replaced;
//! - is written to a hidden temporary file in the collection folder
//!   (`.seedbox-upload-<random>.part`, which the scan never publishes),
//!   flushed to disk, then moved to its name with a rename that refuses to
//!   replace a file that appeared meanwhile, and the folder is flushed;
//! - counts towards [`WebConfig::max_upload`](super::WebConfig::max_upload)
//!   bytes per request (`413`; the body is cut off there).
//!
//! A refused or failed file leaves nothing behind (its temporary file is
//! removed). The daemon's folder watcher then publishes a new version.

use std::io;
use std::path::{Path as FsPath, PathBuf};

use axum::extract::multipart::{Field, Multipart, MultipartError};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncWriteExt;

use super::{error, esc, human_size, valid_collection_name, Shared};
use crate::library::NoUpload;

/// Bytes of multipart framing (boundaries, part headers) allowed in an
/// upload's body beyond its files' bytes.
pub(super) const FRAMING: u64 = 1 << 20;

/// Why a file of an upload was refused.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("{0}")]
    Collection(#[from] NoUpload),
    #[error("choose a file to upload")]
    NoFile,
    #[error(
        "“{0}” is not a plain file name (no folders, “..”, hidden names or control characters)"
    )]
    BadName(String),
    #[error(
        "“{0}” already exists in this collection; rename the file or remove the old one first"
    )]
    Exists(String),
    #[error(
        "the upload is larger than this seedbox accepts ({0}; web.max_upload_mb in the config)"
    )]
    TooLarge(String),
    #[error("the upload was cut off or malformed: {0}")]
    Body(MultipartError),
    #[error("writing into the collection folder {}: {source}", .folder.display())]
    Io { folder: PathBuf, source: io::Error },
}

impl Refused {
    fn status(&self) -> StatusCode {
        match self {
            Refused::Collection(NoUpload::Unknown(_)) => StatusCode::NOT_FOUND,
            Refused::Collection(_) | Refused::Exists(_) => StatusCode::CONFLICT,
            Refused::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refused::Body(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Refused::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// The file name an upload may be saved under: `raw` itself, if it is a
/// plain, visible, single path component.
pub(crate) fn plain_name(raw: &str) -> Option<&str> {
    let ok = !raw.is_empty()
        && raw.len() <= 255
        && raw.trim() == raw
        && !raw.starts_with('.')
        && !raw.contains(['/', '\\'])
        && !raw.chars().any(char::is_control);
    ok.then_some(raw)
}

/// `POST /admin/upload/{collection}`.
pub(super) async fn upload(
    State(st): State<Shared>,
    Path(collection): Path<String>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    if !valid_collection_name(&collection) {
        return error(
            StatusCode::BAD_REQUEST,
            "Bad request: invalid collection name.",
        );
    }
    let mut added: Vec<(String, u64)> = Vec::new();
    let mut budget = st.cfg.max_upload;
    // A body announced larger than the files may be (plus their framing)
    // is refused before a byte of it is read.
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let too_big = announced.is_some_and(|n| n > st.cfg.max_upload.saturating_add(FRAMING));
    let outcome = loop {
        if too_big {
            break Err(Refused::TooLarge(human_size(st.cfg.max_upload)));
        }
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break Ok(()),
            Err(e) => break Err(body_error(e, st.cfg.max_upload)),
        };
        let Some(raw) = field.file_name().map(str::to_string) else {
            continue; // not a file field
        };
        if raw.is_empty() {
            continue; // a file input left empty
        }
        match add_file(&st, &collection, &raw, field, budget).await {
            Ok(n) => {
                budget -= n;
                added.push((raw, n));
            }
            Err(e) => break Err(e),
        }
    };
    let outcome = match outcome {
        Ok(()) if added.is_empty() => Err(Refused::NoFile),
        other => other,
    };
    let mut b = String::new();
    for (name, size) in &added {
        tracing::info!(collection, file = %name, size, "added from the admin page");
        b.push_str(&format!("<li>{} ({})</li>", esc(name), human_size(*size)));
    }
    let (status, msg) = match &outcome {
        Ok(()) => (
            StatusCode::OK,
            format!(
                "<h1>Added</h1><ul>{b}</ul><p>The collection gets a new version with them in \
                 a few seconds.</p>"
            ),
        ),
        Err(e) => {
            tracing::warn!(collection, "upload refused: {e}");
            let before = if added.is_empty() {
                String::from("<p>Nothing was added.</p>")
            } else {
                format!("<p>Added before that:</p><ul>{b}</ul>")
            };
            (
                e.status(),
                format!(
                    "<h1>Not added</h1><p class=\"error\">{}.</p>{before}",
                    esc(&e.to_string())
                ),
            )
        }
    };
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Upload</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head>\n\
<body><main>{msg}<p><a href=\"/admin\">Back to the admin page</a></p></main></body></html>\n"
    );
    let mut r = (status, html).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn body_error(e: MultipartError, limit: u64) -> Refused {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Refused::TooLarge(human_size(limit))
    } else {
        Refused::Body(e)
    }
}

/// Saves one file field as `raw` in the collection's folder; its size.
async fn add_file(
    st: &Shared,
    collection: &str,
    raw: &str,
    field: Field<'_>,
    budget: u64,
) -> Result<u64, Refused> {
    let name = plain_name(raw).ok_or_else(|| Refused::BadName(raw.to_string()))?;
    let folder = st.lib.upload_folder(collection, name)?;
    let dest = folder.join(name);
    if tokio::fs::symlink_metadata(&dest).await.is_ok() {
        return Err(Refused::Exists(name.to_string()));
    }
    let io_err = |source| Refused::Io {
        folder: folder.clone(),
        source,
    };
    let tmp = folder.join(format!(
        ".seedbox-upload-{:016x}.part",
        rand::random::<u64>()
    ));
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .await
        .map_err(io_err)?;
    let written = write_body(file, field, budget, st.cfg.max_upload, &folder).await;
    let placed = match written {
        Ok(n) => place(&tmp, &dest).await.map(|()| n).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                Refused::Exists(name.to_string())
            } else {
                io_err(e)
            }
        }),
        Err(e) => Err(e),
    };
    if placed.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    placed
}

/// Copies the field into `file` (at most `budget` bytes of the request's
/// `limit`) and flushes it to disk.
async fn write_body(
    mut file: tokio::fs::File,
    mut field: Field<'_>,
    budget: u64,
    limit: u64,
    folder: &FsPath,
) -> Result<u64, Refused> {
    let io_err = |source| Refused::Io {
        folder: folder.to_path_buf(),
        source,
    };
    let mut n: u64 = 0;
    while let Some(chunk) = field.chunk().await.map_err(|e| body_error(e, limit))? {
        n += chunk.len() as u64;
        if n > budget {
            return Err(Refused::TooLarge(human_size(limit)));
        }
        file.write_all(&chunk).await.map_err(io_err)?;
    }
    file.sync_all().await.map_err(io_err)?;
    Ok(n)
}

/// Moves `tmp` to `dest` unless `dest` exists (then `AlreadyExists`), and
/// flushes the folder so the new name survives a power cut.
async fn place(tmp: &FsPath, dest: &FsPath) -> io::Result<()> {
    let (tmp, dest) = (tmp.to_path_buf(), dest.to_path_buf());
    tokio::task::spawn_blocking(move || {
        rename_noreplace(&tmp, &dest)?;
        if let Some(dir) = dest.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })
    .await
    .map_err(io::Error::other)?
}

/// A rename that never replaces: `renameat2(RENAME_NOREPLACE)` where the
/// kernel and file system have it, else a hard link (which fails on an
/// existing name) and the removal of the temporary name.
fn rename_noreplace(from: &FsPath, to: &FsPath) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let cstr =
            |p: &FsPath| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
        let (f, t) = (cstr(from)?, cstr(to)?);
        // SAFETY: two valid NUL-terminated paths.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                f.as_ptr(),
                libc::AT_FDCWD,
                t.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
            return Err(e);
        }
    }
    std::fs::hard_link(from, to)?;
    std::fs::remove_file(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names() {
        for ok in ["Zine.pdf", "Café au lait.epub", "a..b.pdf", "x"] {
            assert_eq!(plain_name(ok), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "../x.pdf",
            "..",
            "a/b.pdf",
            "a\\b.pdf",
            ".hidden",
            " x.pdf",
            "x\n.pdf",
            "x\0",
            "/etc/passwd",
        ] {
            assert_eq!(plain_name(bad), None, "{bad:?}");
        }
        assert_eq!(plain_name(&"a".repeat(256)), None);
    }

    #[test]
    fn never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "new").unwrap();
        std::fs::write(&b, "old").unwrap();
        let e = rename_noreplace(&a, &b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "old");
        std::fs::remove_file(&b).unwrap();
        rename_noreplace(&a, &b).unwrap();
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new");
        assert!(!a.exists());
    }
}
