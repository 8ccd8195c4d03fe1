//! The `Authorization` header, parsed into the credentials the application checks.

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gantry_app::identity::Credentials;
use gantry_domain::{Error, Result};

/// What the request's `Authorization` header carries (Basic or Bearer).
pub fn credentials(headers: &HeaderMap) -> Result<Credentials> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(Credentials::None);
    };
    let v = v.to_str().map_err(|_| Error::unauthorized("malformed Authorization header"))?;
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => basic(rest),
        "bearer" => Ok(Credentials::Bearer(rest.trim().to_string())),
        _ => Err(Error::unauthorized("unsupported Authorization scheme: use Basic or Bearer")),
    }
}

fn basic(encoded: &str) -> Result<Credentials> {
    let bad = || Error::unauthorized("malformed Basic credentials");
    let raw = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    let (u, p) = s.split_once(':').ok_or_else(bad)?;
    Ok(Credentials::Basic { username: u.to_string(), secret: p.to_string() })
}

/// The token endpoint's OAuth2 form (`username` and `password`, an API token) as Basic
/// credentials; otherwise the header's.
pub fn from_form(form: &[(String, String)], headers: &HeaderMap) -> Result<Credentials> {
    let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    match (get("username"), get("password")) {
        (Some(username), Some(secret)) => Ok(Credentials::Basic { username, secret }),
        _ => credentials(headers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn schemes() {
        let mut h = HeaderMap::new();
        assert_eq!(credentials(&h).unwrap(), Credentials::None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic YWxpY2U6Z250X3g="));
        assert_eq!(credentials(&h).unwrap(), Credentials::Basic { username: "alice".into(), secret: "gnt_x".into() });
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  abc "));
        assert_eq!(credentials(&h).unwrap(), Credentials::Bearer("abc".into()));
        for bad in ["Basic !!", "Basic YWxpY2U=", "Digest x"] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(bad));
            assert!(credentials(&h).is_err(), "{bad}");
        }
    }
}
