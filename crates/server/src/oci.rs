//! The OCI distribution API (`/v2`). Paths are parsed into an [`Endpoint`] first (names
//! may contain slashes), then each endpoint has one handler.

use crate::auth::{issue_registry_token, random_hex};
use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bytes::Bytes;
use futures::StreamExt;
use gantry_domain::manifest::OCI_INDEX;
use gantry_domain::{Access, Digest, Error, ErrorKind, Principal, RefTarget, RepoName, Result, time};
use gantry_store::Upload;
use std::collections::HashMap;
use std::ops::Range;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v2", any(v2)).route("/v2/", any(v2)).route("/v2/{*rest}", any(v2))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Base,
    Token,
    Catalog,
    Tags(RepoName),
    Manifest(RepoName, String),
    Blob(RepoName, String),
    UploadStart(RepoName),
    Upload(RepoName, String),
    Referrers(RepoName, String),
}

pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Parses the part of the path after `/v2/`.
pub fn parse_endpoint(rest: &str) -> Result<Endpoint> {
    let rest = percent_decode(rest);
    match rest.as_str() {
        "" => return Ok(Endpoint::Base),
        "token" => return Ok(Endpoint::Token),
        "_catalog" => return Ok(Endpoint::Catalog),
        _ => {}
    }
    let segs: Vec<&str> = rest.split('/').collect();
    let n = segs.len();
    let name = |upto: usize| -> Result<RepoName> { RepoName::parse(&segs[..upto].join("/")) };
    if n >= 4 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads" {
        return Ok(if segs[n - 1].is_empty() {
            Endpoint::UploadStart(name(n - 3)?)
        } else {
            Endpoint::Upload(name(n - 3)?, segs[n - 1].to_string())
        });
    }
    if n >= 3 && segs[n - 2] == "blobs" && segs[n - 1] == "uploads" {
        return Ok(Endpoint::UploadStart(name(n - 2)?));
    }
    if n >= 4 && segs[n - 2] == "tags" && segs[n - 1] == "list" {
        return Ok(Endpoint::Tags(name(n - 2)?));
    }
    if n >= 3 {
        let last = segs[n - 1].to_string();
        match segs[n - 2] {
            "manifests" => return Ok(Endpoint::Manifest(name(n - 2)?, last)),
            "blobs" => return Ok(Endpoint::Blob(name(n - 2)?, last)),
            "referrers" => return Ok(Endpoint::Referrers(name(n - 2)?, last)),
            _ => {}
        }
    }
    Err(Error::not_found("no such endpoint in the distribution API"))
}

async fn v2(State(st): State<AppState>, method: Method, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let rest = uri.path().strip_prefix("/v2").unwrap_or("").strip_prefix('/').unwrap_or("");
    let query: HashMap<String, String> =
        Query::<HashMap<String, String>>::try_from_uri(&uri).map(|q| q.0).unwrap_or_default();
    let ep = match parse_endpoint(rest) {
        Ok(ep) => ep,
        Err(e) => return error_response(&st, &e, None),
    };
    let scope = scope_of(&ep, &method);
    let mut res = match handle(&st, &method, ep, &query, &headers, body).await {
        Ok(r) => r,
        Err(e) => error_response(&st, &e, scope),
    };
    res.headers_mut().insert("docker-distribution-api-version", HeaderValue::from_static("registry/2.0"));
    res
}

/// The token scope a client should ask for, used in the login challenge.
fn scope_of(ep: &Endpoint, method: &Method) -> Option<String> {
    let name = match ep {
        Endpoint::Tags(n) | Endpoint::Manifest(n, _) | Endpoint::Blob(n, _) | Endpoint::Referrers(n, _) => n,
        Endpoint::UploadStart(n) | Endpoint::Upload(n, _) => n,
        Endpoint::Catalog => return Some("registry:catalog:*".into()),
        _ => return None,
    };
    let actions = if method == Method::GET || method == Method::HEAD { "pull" } else { "pull,push" };
    Some(format!("repository:{name}:{actions}"))
}

/// Renders an error in the OCI envelope; 401s carry the login challenge.
pub fn error_response(st: &AppState, e: &Error, scope: Option<String>) -> Response {
    if e.kind == ErrorKind::Internal {
        tracing::error!("internal error: {}", e.message);
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body =
        serde_json::json!({"errors": [{"code": e.kind.code(), "message": e.public_message(), "detail": {}}]});
    if let Some(p) = &e.authorization_parameters {
        // Globus clients read these top-level keys and ask the user to sign in again.
        body["code"] = "AuthorizationRequired".into();
        body["authorization_parameters"] = p.clone();
    }
    let mut res = (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    if e.kind == ErrorKind::Unauthorized {
        let mut c = format!("Bearer realm=\"{}/v2/token\",service=\"gantry\"", st.public_url);
        if let Some(s) = scope {
            c.push_str(&format!(",scope=\"{s}\""));
        }
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    res
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn upload_range(size: i64) -> String {
    if size <= 0 { "0-0".into() } else { format!("0-{}", size - 1) }
}

fn upload_accepted(status: StatusCode, name: &RepoName, up_id: &str, size: i64) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::LOCATION, hv(&format!("/v2/{name}/blobs/uploads/{up_id}")));
    h.insert(header::RANGE, hv(&upload_range(size)));
    h.insert("docker-upload-uuid", hv(up_id));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

fn blob_created(name: &RepoName, d: &Digest) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::CREATED;
    let h = r.headers_mut();
    h.insert(header::LOCATION, hv(&format!("/v2/{name}/blobs/{d}")));
    h.insert("docker-content-digest", hv(d.as_str()));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

fn accepted() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::ACCEPTED;
    r
}

fn json(status: StatusCode, v: &serde_json::Value, content_type: &str) -> Response {
    (status, [(header::CONTENT_TYPE, content_type.to_string())], v.to_string()).into_response()
}

/// Parses `n` (page size) and `last` for paginated lists.
fn paging(q: &HashMap<String, String>, default: i64) -> Result<(i64, String)> {
    let n = match q.get("n") {
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| Error::new(ErrorKind::Invalid, format!("invalid page size n={v:?}")))?,
        None => default,
    };
    Ok((n.min(10_000), q.get("last").cloned().unwrap_or_default()))
}

fn link_next(path: &str, n: i64, last: &str) -> HeaderValue {
    hv(&format!("<{path}?n={n}&last={last}>; rel=\"next\""))
}

async fn handle(
    st: &AppState,
    method: &Method,
    ep: Endpoint,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response> {
    if ep == Endpoint::Token {
        return token(st, method, headers, body).await;
    }
    let caller = st.authenticate(headers).await?;
    let caller = caller.as_ref();
    match (ep, method.clone()) {
        (Endpoint::Base, Method::GET | Method::HEAD) => match caller {
            None => Err(Error::unauthorized("authentication required")),
            Some(_) => Ok(json(StatusCode::OK, &serde_json::json!({}), "application/json")),
        },
        (Endpoint::Catalog, Method::GET) => {
            let (n, last) = paging(q, 100)?;
            let names =
                st.store.catalog(caller.map(|p| p.user_id), caller.is_some_and(|p| p.is_admin), &last, n).await?;
            let mut r = json(StatusCode::OK, &serde_json::json!({ "repositories": names }), "application/json");
            if n > 0 && names.len() as i64 == n {
                r.headers_mut().insert(header::LINK, link_next("/v2/_catalog", n, names.last().unwrap()));
            }
            Ok(r)
        }
        (Endpoint::Tags(name), Method::GET) => {
            let ctx = st.repo(caller, &name, Access::Read).await?;
            let (n, last) = paging(q, 10_000)?;
            let tags = if n == 0 { vec![] } else { st.store.tag_names(ctx.repo.id, &last, n).await? };
            let mut r =
                json(StatusCode::OK, &serde_json::json!({ "name": name.as_str(), "tags": tags }), "application/json");
            if q.contains_key("n") && n > 0 && tags.len() as i64 == n {
                r.headers_mut()
                    .insert(header::LINK, link_next(&format!("/v2/{name}/tags/list"), n, tags.last().unwrap()));
            }
            Ok(r)
        }
        (Endpoint::Manifest(name, reference), m @ (Method::GET | Method::HEAD)) => {
            let target = RefTarget::parse(&reference).map_err(manifest_unknown)?;
            let ctx = st.repo(caller, &name, Access::Read).await?;
            let row = st.resolve(&ctx.repo, &target).await?;
            let content = st.store.manifest_content(row.id).await?;
            let mut r = Response::new(if m == Method::HEAD { Body::empty() } else { Body::from(content.clone()) });
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, hv(&row.media_type));
            h.insert(header::CONTENT_LENGTH, hv(&content.len().to_string()));
            h.insert("docker-content-digest", hv(&row.digest));
            h.insert(header::ETAG, hv(&format!("\"{}\"", row.digest)));
            Ok(r)
        }
        (Endpoint::Manifest(name, reference), Method::PUT) => {
            let target = RefTarget::parse(&reference)?;
            let ctx = st.repo_for_push(caller, &name).await?;
            let limit = st.config.max_manifest_bytes;
            let bytes = read_limited(body, limit).await?;
            let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
            let row = st.put_manifest(caller.expect("push requires a caller"), &ctx.repo, &target, bytes, ct).await?;
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::CREATED;
            let h = r.headers_mut();
            h.insert(header::LOCATION, hv(&format!("/v2/{name}/manifests/{}", row.digest)));
            h.insert("docker-content-digest", hv(&row.digest));
            h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            if let Some(s) = &row.subject {
                h.insert("oci-subject", hv(s));
            }
            Ok(r)
        }
        (Endpoint::Manifest(name, reference), Method::DELETE) => {
            let target = RefTarget::parse(&reference).map_err(manifest_unknown)?;
            let ctx = st.repo(caller, &name, Access::Manage).await?;
            let gone = match &target {
                RefTarget::Tag(t) => st.store.delete_tag(ctx.repo.id, t).await?,
                RefTarget::Digest(d) => st.store.delete_manifest(ctx.repo.id, d).await?,
            };
            if !gone {
                return Err(Error::new(ErrorKind::ManifestUnknown, format!("manifest {target} not found")));
            }
            Ok(accepted())
        }
        (Endpoint::Blob(name, digest), m @ (Method::GET | Method::HEAD)) => {
            let d = Digest::parse(&digest)?;
            let ctx = st.repo(caller, &name, Access::Read).await?;
            let size = st
                .store
                .blob_in_repo(ctx.repo.id, &d)
                .await?
                .ok_or_else(|| Error::new(ErrorKind::BlobUnknown, format!("blob {d} not found in {name}")))?;
            serve_blob(st, &d, size as u64, &m, headers, None).await
        }
        (Endpoint::Blob(name, digest), Method::DELETE) => {
            let d = Digest::parse(&digest)?;
            let ctx = st.repo(caller, &name, Access::Manage).await?;
            if !st.store.unlink_blob(ctx.repo.id, &d).await? {
                return Err(Error::new(ErrorKind::BlobUnknown, format!("blob {d} not found in {name}")));
            }
            Ok(accepted())
        }
        (Endpoint::UploadStart(name), Method::POST) => upload_start(st, caller, &name, q, headers, body).await,
        (Endpoint::Upload(name, id), m) => {
            let ctx = st.repo_for_push(caller, &name).await?;
            let up = st
                .store
                .upload(&id)
                .await?
                .filter(|u| u.repo_id == ctx.repo.id && u.user_id == caller.map(|p| p.user_id))
                .ok_or_else(|| Error::new(ErrorKind::BlobUploadUnknown, format!("upload {id} not found")))?;
            match m {
                Method::GET => Ok(upload_accepted(StatusCode::NO_CONTENT, &name, &up.id, up.size)),
                Method::PATCH => {
                    let size = append(st, &up, headers, body).await?;
                    Ok(upload_accepted(StatusCode::ACCEPTED, &name, &up.id, size))
                }
                Method::PUT => {
                    let d = Digest::parse(q.get("digest").map(String::as_str).unwrap_or(""))?;
                    let size = append(st, &up, headers, body).await?;
                    st.commit_upload(&up, size as u64, &d).await?;
                    Ok(blob_created(&name, &d))
                }
                Method::DELETE => {
                    st.blobs.discard(&up.id).await?;
                    st.store.delete_upload(&up.id).await?;
                    let mut r = Response::new(Body::empty());
                    *r.status_mut() = StatusCode::NO_CONTENT;
                    Ok(r)
                }
                _ => Err(unsupported()),
            }
        }
        (Endpoint::Referrers(name, digest), Method::GET) => {
            let d = Digest::parse(&digest)?;
            let ctx = st.repo(caller, &name, Access::Read).await?;
            let filter = q.get("artifactType").filter(|s| !s.is_empty());
            let rows = st.store.referrers(ctx.repo.id, &d, filter.map(String::as_str)).await?;
            let manifests: Vec<serde_json::Value> = rows
                .iter()
                .map(|m| {
                    let mut o = serde_json::json!({"mediaType": m.media_type, "digest": m.digest, "size": m.size});
                    if let Some(a) = &m.artifact_type {
                        o["artifactType"] = a.clone().into();
                    }
                    if let Some(a) =
                        m.annotations.as_deref().and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
                    {
                        o["annotations"] = a;
                    }
                    o
                })
                .collect();
            let idx = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
            let mut r = json(StatusCode::OK, &idx, OCI_INDEX);
            if filter.is_some() {
                r.headers_mut().insert("oci-filters-applied", HeaderValue::from_static("artifactType"));
            }
            Ok(r)
        }
        _ => Err(unsupported()),
    }
}

fn unsupported() -> Error {
    Error::new(ErrorKind::Unsupported, "method not supported on this endpoint")
}

fn manifest_unknown(e: Error) -> Error {
    Error::new(ErrorKind::ManifestUnknown, e.message)
}

async fn read_limited(body: Body, limit: usize) -> Result<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_big = std::error::Error::source(&e).is_some_and(|s| s.to_string().contains("length limit"))
            || e.to_string().contains("length limit");
        if too_big {
            Error::new(ErrorKind::TooLarge, format!("manifest is larger than {limit} bytes"))
        } else {
            Error::invalid(format!("could not read request body: {e}"))
        }
    })
}

/// `POST /v2/<name>/blobs/uploads/`: mount, monolithic upload, or a new session.
async fn upload_start(
    st: &AppState,
    caller: Option<&Principal>,
    name: &RepoName,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response> {
    let ctx = st.repo_for_push(caller, name).await?;
    if let Some(mount) = q.get("mount") {
        let d = Digest::parse(mount)?;
        // Mount only from a repository the caller can read; otherwise fall back to a
        // normal upload, which reveals nothing about the other repository.
        if let Some(from) = q.get("from").and_then(|f| RepoName::parse(f).ok())
            && let Ok(src) = st.repo(caller, &from, Access::Read).await
            && st.store.blob_in_repo(src.repo.id, &d).await?.is_some()
            && st.store.mount_blob(ctx.repo.id, &d).await?
        {
            return Ok(blob_created(name, &d));
        }
    }
    let id = random_hex(16);
    let up = st.store.create_upload(&id, ctx.repo.id, caller.map(|p| p.user_id)).await?;
    st.blobs.begin(&id).await?;
    if let Some(digest) = q.get("digest") {
        let d = Digest::parse(digest)?;
        let size = append(st, &up, headers, body).await?;
        st.commit_upload(&up, size as u64, &d).await?;
        return Ok(blob_created(name, &d));
    }
    let size = if has_body(headers) { append(st, &up, headers, body).await? } else { 0 };
    Ok(upload_accepted(StatusCode::ACCEPTED, name, &id, size))
}

fn has_body(headers: &HeaderMap) -> bool {
    let len = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match len {
        Some(n) => n > 0,
        None => headers.contains_key(header::TRANSFER_ENCODING),
    }
}

/// Parses a chunk's `Content-Range: <start>-<end>` (with or without a `bytes ` prefix).
fn content_range(headers: &HeaderMap) -> Result<Option<(u64, u64)>> {
    let Some(v) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    let s = s.strip_prefix("bytes ").unwrap_or(s);
    let s = s.split('/').next().unwrap_or("");
    let (a, b) = s.split_once('-').ok_or_else(|| Error::new(ErrorKind::RangeInvalid, "malformed Content-Range"))?;
    let a: u64 = a.trim().parse().map_err(|_| Error::new(ErrorKind::RangeInvalid, "malformed Content-Range"))?;
    let b: u64 = b.trim().parse().map_err(|_| Error::new(ErrorKind::RangeInvalid, "malformed Content-Range"))?;
    if b < a {
        return Err(Error::new(ErrorKind::RangeInvalid, "Content-Range ends before it starts"));
    }
    Ok(Some((a, b)))
}

/// Appends a request body to an upload at its recorded size; returns the new size.
async fn append(st: &AppState, up: &Upload, headers: &HeaderMap, body: Body) -> Result<i64> {
    if let Some((start, end)) = content_range(headers)? {
        if start != up.size as u64 {
            return Err(Error::new(
                ErrorKind::RangeInvalid,
                format!("chunk starts at {start} but the upload has {} bytes; resume from there", up.size),
            ));
        }
        let len = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if len.is_some_and(|l| l != end - start + 1) {
            return Err(Error::new(ErrorKind::RangeInvalid, "Content-Length does not match Content-Range"));
        }
    }
    let stream = body.into_data_stream();
    let a = st.blobs.append(&up.id, up.size as u64, stream).await?;
    let size = a.size as i64;
    if !st.store.advance_upload(&up.id, up.size, size).await? {
        return Err(Error::new(ErrorKind::RangeInvalid, "the upload was changed by another request; check its status"));
    }
    if a.interrupted {
        return Err(Error::new(ErrorKind::BlobUploadInvalid, format!("request body ended early; {size} bytes kept")));
    }
    Ok(size)
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

/// Streams a blob with Range, HEAD, ETag and Content-Length support.
pub async fn serve_blob(
    st: &AppState,
    d: &Digest,
    size: u64,
    method: &Method,
    headers: &HeaderMap,
    filename: Option<&str>,
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
            let mut r = error_response(st, &e, None);
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
        let stream = st.blobs.open(d, range.clone()).await?;
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
    let mut enc = String::new();
    for b in base.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{enc}")
}

/// `GET|POST /v2/token`: the Docker-style token endpoint.
async fn token(st: &AppState, method: &Method, headers: &HeaderMap, body: Body) -> Result<Response> {
    let claims = if *method == Method::POST {
        // OAuth2 form: grant_type=password with username and password (an API token).
        let raw = read_limited(body, 64 * 1024).await?;
        let form: HashMap<String, String> = serde_json::from_value(serde_json::Value::Object(
            url_form(&raw).into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect(),
        ))
        .unwrap_or_default();
        if let (Some(u), Some(p)) = (form.get("username"), form.get("password")) {
            let mut h = headers.clone();
            use base64::Engine;
            let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            h.insert(header::AUTHORIZATION, hv(&format!("Basic {b}")));
            st.registry_login(&h).await?
        } else {
            st.registry_login(headers).await?
        }
    } else if *method == Method::GET {
        st.registry_login(headers).await?
    } else {
        return Err(unsupported());
    };
    let t = issue_registry_token(&st.registry_key, &claims);
    let expires_in = st.config.registry_token_secs;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "token": t, "access_token": t, "expires_in": expires_in, "issued_at": time::rfc3339(time::now_unix()),
        }),
        "application/json",
    ))
}

fn url_form(raw: &[u8]) -> Vec<(String, String)> {
    let s = String::from_utf8_lossy(raw);
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(&k.replace('+', " ")), percent_decode(&v.replace('+', " ")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rn(s: &str) -> RepoName {
        RepoName::parse(s).unwrap()
    }

    #[test]
    fn endpoints_with_slashes_in_names() {
        assert_eq!(parse_endpoint("").unwrap(), Endpoint::Base);
        assert_eq!(parse_endpoint("_catalog").unwrap(), Endpoint::Catalog);
        assert_eq!(parse_endpoint("a/b/c/tags/list").unwrap(), Endpoint::Tags(rn("a/b/c")));
        assert_eq!(parse_endpoint("a/blobs/manifests/v1").unwrap(), Endpoint::Manifest(rn("a/blobs"), "v1".into()));
        assert_eq!(parse_endpoint("a/b/blobs/uploads/").unwrap(), Endpoint::UploadStart(rn("a/b")));
        assert_eq!(parse_endpoint("a/b/blobs/uploads").unwrap(), Endpoint::UploadStart(rn("a/b")));
        assert_eq!(parse_endpoint("a/b/blobs/uploads/xyz").unwrap(), Endpoint::Upload(rn("a/b"), "xyz".into()));
        assert_eq!(parse_endpoint("a/b/blobs/sha256%3Aab").unwrap(), Endpoint::Blob(rn("a/b"), "sha256:ab".into()));
        assert_eq!(
            parse_endpoint("a/b/referrers/sha256:ab").unwrap(),
            Endpoint::Referrers(rn("a/b"), "sha256:ab".into())
        );
        assert_eq!(parse_endpoint("a/../b/manifests/x").unwrap_err().kind, ErrorKind::NameInvalid);
        assert_eq!(parse_endpoint("single/manifests/x").unwrap_err().kind, ErrorKind::NameInvalid);
        assert_eq!(parse_endpoint("nothing/here").unwrap_err().kind, ErrorKind::NotFound);
    }

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
