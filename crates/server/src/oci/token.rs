//! `GET|POST /v2/token`: the Docker-style token endpoint. GET takes the Basic
//! credentials of the header; POST also takes the OAuth2 password form. The token grants
//! the `scope`s asked for (`repository:NAME:pull,push`, repeatable), no more.

use super::{json, manifests::read_limited, unsupported};
use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use gantry_app::App;
use gantry_domain::url::unescape_form;
use gantry_domain::{Grants, Result, time};

pub(super) async fn token(
    app: &App,
    method: &Method,
    query: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response> {
    let mut params = url_form(query.as_bytes());
    let creds = match *method {
        Method::POST => {
            let form = url_form(&read_limited(body, 64 * 1024).await?);
            let creds = crate::credentials::from_form(&form, headers)?;
            params.extend(form);
            creds
        }
        Method::GET => crate::credentials::credentials(headers)?,
        _ => return Err(unsupported()),
    };
    let scopes = params.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.as_str());
    let t = app.auth.registry_token(&creds, &Grants::from_scopes(scopes)).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "token": t.token, "access_token": t.token, "expires_in": t.expires_in,
            "issued_at": time::rfc3339(t.issued_at),
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
            (unescape_form(k), unescape_form(v))
        })
        .collect()
}
