//! Streaming a blob over HTTP, for `/v2` and `/download`: Range, HEAD, ETag,
//! If-None-Match, Content-Length and a safe Content-Disposition.

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
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r.headers_mut().insert(header::ETAG, hv(&etag));
        return Ok(r);
    }
    let range = match parse_range(headers.get(header::RANGE), size) {
        Ok(r) => r,
        Err(e) => {
            let mut r = render(&e);
            r.headers_mut().insert(header::CONTENT_RANGE, hv(&format!("bytes */{size}")));
            return Ok(r);
        }
    };
    let (status, len) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        None => (StatusCode::OK, size),
    };
    let body = if *method == Method::HEAD || len == 0 {
        Body::empty()
    } else {
        let stream = app.registry.blobs().open(d, range.clone()).await?;
        Body::from_stream(stream.map(|r| r.inspect_err(|e| tracing::warn!("blob stream failed: {e}"))))
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, hv(&len.to_string()));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, hv(&etag));
    h.insert("docker-content-digest", hv(d.as_str()));
    if let Some(r) = &range {
        h.insert(header::CONTENT_RANGE, hv(&format!("bytes {}-{}/{size}", r.start, r.end - 1)));
    }
    if let Some(f) = filename {
        h.insert(header::CONTENT_DISPOSITION, hv(&content_disposition(f)));
    }
    Ok(r)
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
