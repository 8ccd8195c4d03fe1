//! Who calls the API: the `Authorization` header first; otherwise a browser session,
//! which must also send its CSRF token (`X-CSRF-Token`) on anything but GET, HEAD and
//! OPTIONS, since another site cannot read it.

use super::error::{ApiError, ApiResult};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use gantry_app::App;
use gantry_domain::{Error, Principal, Result, TokenScope};

/// Header carrying the CSRF token when the API is called with a session cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The authenticated caller, if any. Bad credentials are rejected with 401.
pub struct Caller(pub Option<Principal>);

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &App) -> ApiResult<Caller> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            let creds = crate::credentials::credentials(&parts.headers)?;
            let p = app.auth.authenticate(&creds).await?;
            if p.as_ref().is_some_and(|p| p.grants.is_some()) {
                return Err(
                    Error::unauthorized("registry tokens are for the OCI API (/v2) only; use an API token").into()
                );
            }
            return Ok(Caller(p));
        }
        let Some(s) = crate::web::cookies::session(app, &parts.headers).await? else { return Ok(Caller(None)) };
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            s.check_csrf(sent)
                .map_err(|_| Error::denied("missing or wrong X-CSRF-Token header for a signed-in browser"))?;
        }
        Ok(Caller(Some(s.principal())))
    }
}

impl Caller {
    pub fn require(&self) -> Result<&Principal> {
        self.0.as_ref().ok_or_else(|| Error::unauthorized("authentication required"))
    }
    pub fn require_write(&self) -> Result<&Principal> {
        let p = self.require()?;
        if p.scope != TokenScope::Write {
            return Err(Error::denied("this needs a token with write scope"));
        }
        Ok(p)
    }
    pub fn get(&self) -> Option<&Principal> {
        self.0.as_ref()
    }
}
