//! Streaming a blob (for `/v2` and `/download`) or a file served in place (`/data`) over
//! HTTP: Range, HEAD, ETag, If-None-Match, Content-Length and a safe Content-Disposition.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use gantry_app::App;
use gantry_domain::{Digest, Error, ErrorKind, Result};
use std::ops::Range;

/// A header value from text that may not be one (then empty).
pub fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Parses a `Range: bytes=…` header against a blob size. `Ok(None)`: whole blob.
pub fn parse_range(h: Option<&HeaderValue>, size: u64) -> Result<Option<Range<u64>>> {
    let Some(h) = h else { return Ok(None) };
    let s = h.to_str().unwrap_or("").trim();
    let unsatisfiable =
        || Error::new(ErrorKind::RangeInvalid, format!("range {s:?} cannot be satisfied for {size} bytes"));
    let Some(spec) = s.strip_prefix("bytes=") else {
        return Err(unsatisfiable());
    };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: the whole blob is a valid answer
    }
    let (a, b) = spec.split_once('-').ok_or_else(unsatisfiable)?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| unsatisfiable())?;
        if n == 0 || size == 0 {
            return Err(unsatisfiable());
        }
        size.saturating_sub(n)..size
    } else {
        let start: u64 = a.parse().map_err(|_| unsatisfiable())?;
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>().map_err(|_| unsatisfiable())?.min(size.saturating_sub(1))
        };
        if start >= size || end < start {
            return Err(unsatisfiable());
        }
        start..end + 1
    };
    Ok(Some(r))
}

/// An answer of 304 when the client holds this ETag already.
fn not_modified(headers: &HeaderMap, etag: &str) -> Option<Response> {
    let held = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok())?;
    if !held.split(',').any(|t| t.trim() == etag || t.trim() == "*") {
        return None;
    }
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NOT_MODIFIED;
    r.headers_mut().insert(header::ETAG, hv(etag));
    Some(r)
}

/// What a ranged answer is about: its size, ETag and file name.
struct Ranged<'a> {
    size: u64,
    etag: &'a str,
    filename: Option<&'a str>,
}

/// The range asked for, or the 416 answer (`render` with `Content-Range: bytes */SIZE`).
/// With `If-Range` naming another version (ETag), the whole content is the answer.
fn range_of(
    headers: &HeaderMap,
    size: u64,
    etag: &str,
    render: fn(&Error) -> Response,
) -> std::result::Result<Option<Range<u64>>, Box<Response>> {
    if headers.get(header::IF_RANGE).is_some_and(|v| v.as_bytes() != etag.as_bytes()) {
        return Ok(None);
    }
    parse_range(headers.get(header::RANGE), size).map_err(|e| {
        let mut r = render(&e);
        r.headers_mut().insert(header::CONTENT_RANGE, hv(&format!("bytes */{size}")));
        Box::new(r)
    })
}

/// The answer's status and headers around `body`.
fn respond(what: &Ranged<'_>, range: &Option<Range<u64>>, body: Body) -> Response {
    let (status, len) = match range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        None => (StatusCode::OK, what.size),
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, hv(&len.to_string()));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, hv(what.etag));
    if let Some(r) = range {
        h.insert(header::CONTENT_RANGE, hv(&format!("bytes {}-{}/{}", r.start, r.end - 1, what.size)));
    }
    if let Some(f) = what.filename {
        h.insert(header::CONTENT_DISPOSITION, hv(&content_disposition(f)));
    }
    r
}

/// Streams a blob. An unsatisfiable range is answered by `render` with
/// `Content-Range: bytes */SIZE`.
pub async fn serve_blob(
    app: &App,
    d: &Digest,
    size: u64,
    method: &Method,
    headers: &HeaderMap,
    filename: Option<&str>,
    render: fn(&Error) -> Response,
) -> Result<Response> {
    let etag = format!("\"{d}\"");
    if let Some(r) = not_modified(headers, &etag) {
        return Ok(r);
    }
    let range = match range_of(headers, size, &etag, render) {
        Ok(r) => r,
        Err(r) => return Ok(*r),
    };
    let len = range.as_ref().map_or(size, |r| r.end - r.start);
    let body = if *method == Method::HEAD || len == 0 {
        Body::empty()
    } else {
        let stream = app.registry.blobs().open(d, range.clone()).await?;
        Body::from_stream(stream.map(|r| r.inspect_err(|e| tracing::warn!("blob stream failed: {e}"))))
    };
    let mut r = respond(&Ranged { size, etag: &etag, filename }, &range, body);
    r.headers_mut().insert("docker-content-digest", hv(d.as_str()));
    Ok(r)
}

/// Streams a file from disk as it is now (experiment data served in place), with the
/// same Range, HEAD and ETag rules as a blob. A file that shrinks or vanishes while it is
/// read ends the answer early (the client sees fewer bytes than Content-Length).
pub async fn serve_file(
    path: &std::path::Path,
    size: u64,
    etag: &str,
    method: &Method,
    headers: &HeaderMap,
    render: fn(&Error) -> Response,
) -> Result<Response> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    if let Some(r) = not_modified(headers, etag) {
        return Ok(r);
    }
    let range = match range_of(headers, size, etag, render) {
        Ok(r) => r,
        Err(r) => return Ok(*r),
    };
    let (start, len) = range.as_ref().map_or((0, size), |r| (r.start, r.end - r.start));
    let body = if *method == Method::HEAD || len == 0 {
        Body::empty()
    } else {
        let mut f = tokio::fs::File::open(path).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::not_found("this file is not there any more"),
            _ => Error::internal(format!("open {}: {e}", path.display())),
        })?;
        f.seek(std::io::SeekFrom::Start(start)).await.map_err(|e| Error::internal(format!("seek: {e}")))?;
        let shown = path.display().to_string();
        let stream = tokio_util::io::ReaderStream::with_capacity(f.take(len), 256 * 1024)
            .map(move |r| r.inspect_err(|e| tracing::warn!(file = shown, "file stream failed: {e}")));
        Body::from_stream(stream)
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    Ok(respond(&Ranged { size, etag, filename: name.as_deref() }, &range, body))
}

/// `attachment; filename="…"` with a safe ASCII fallback and the UTF-8 form.
pub fn content_disposition(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    let ascii: String =
        base.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' && c != ';' { c } else { '_' }).collect();
    let enc = gantry_domain::url::escape_component(base);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{enc}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let h = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(parse_range(Some(&h("bytes=0-9")), 100).unwrap(), Some(0..10));
        assert_eq!(parse_range(Some(&h("bytes=90-")), 100).unwrap(), Some(90..100));
        assert_eq!(parse_range(Some(&h("bytes=-10")), 100).unwrap(), Some(90..100));
        assert_eq!(parse_range(Some(&h("bytes=50-500")), 100).unwrap(), Some(50..100));
        assert_eq!(parse_range(None, 100).unwrap(), None);
        for bad in ["bytes=100-", "bytes=5-2", "bytes=x-", "items=0-1", "bytes=-0"] {
            assert_eq!(parse_range(Some(&h(bad)), 100).unwrap_err().kind, ErrorKind::RangeInvalid, "{bad}");
        }
    }

    #[test]
    fn dispositions_are_safe() {
        assert_eq!(content_disposition("a.sif"), "attachment; filename=\"a.sif\"; filename*=UTF-8''a.sif");
        let d = content_disposition("dir/x\"y;z.txt");
        assert!(d.starts_with("attachment; filename=\"x_y_z.txt\""), "{d}");
    }
}
