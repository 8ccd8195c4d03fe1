//! Connecting a Globus account in the browser: `/globus/connect` sends the signed-in
//! user to Globus (with the consents or sign-in a collection asked for), and
//! `/globus/callback` keeps the tokens.

use super::{CallbackQuery, WebResult, cookies, enc, redirect_with_cookies, safe_next};
use axum::Router;
use axum::extract::{Query, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use gantry_app::App;
use gantry_app::transfers::connection::ConnectRequest;
use gantry_domain::Error;

pub fn routes() -> Router<App> {
    Router::new().route("/globus/connect", get(connect)).route("/globus/callback", get(callback))
}

/// `next=…&scope=…&scope=…&policy=…&domain=…&message=…` (keys may repeat).
fn parse_query(q: &str) -> ConnectRequest {
    let mut out = ConnectRequest::default();
    let mut next = None;
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = gantry_domain::url::unescape_form(v);
        match k {
            "next" => next = Some(v),
            "scope" => out.scopes.push(v),
            "policy" => out.policies.push(v),
            "domain" => out.domains.push(v),
            "message" => out.message = Some(v.chars().take(300).collect()),
            _ => {}
        }
    }
    out.return_to = safe_next(next.as_deref());
    out
}

/// Starts the consent for Transfer at Globus, for the signed-in user.
async fn connect(State(app): State<App>, headers: HeaderMap, raw: RawQuery) -> WebResult<Response> {
    let t = app.transfers()?;
    let Some(s) = cookies::session(&app, &headers).await? else {
        let here = match raw.0.as_deref() {
            Some(q) if !q.is_empty() => format!("/globus/connect?{q}"),
            _ => "/globus/connect".into(),
        };
        return Ok(Redirect::to(&format!("/login?next={}", enc(&here))).into_response());
    };
    let req = parse_query(raw.0.as_deref().unwrap_or(""));
    let (browser, fresh) = cookies::browser_id(&app, &headers);
    let url = t.connect(&s, &browser, &req).await?;
    Ok(redirect_with_cookies(&url, fresh))
}

async fn callback(State(app): State<App>, headers: HeaderMap, Query(q): Query<CallbackQuery>) -> WebResult<Response> {
    let t = app.transfers()?;
    let s = cookies::session(&app, &headers).await?.ok_or_else(|| Error::unauthorized("sign in to Gantry first"))?;
    let back = t.connected(&s, &q.into(), &cookies::browser_of(&app, &headers)).await?;
    Ok(Redirect::to(&back).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn repeated_keys() {
        let q = super::parse_query("next=%2Fx&scope=a%5Bb%5D&scope=c&policy=p1&domain=d&message=hi+there");
        assert_eq!((q.return_to.as_str(), q.scopes), ("/x", vec!["a[b]".to_string(), "c".to_string()]));
        assert_eq!(
            (q.policies, q.domains, q.message.as_deref()),
            (vec!["p1".into()], vec!["d".into()], Some("hi there"))
        );
        assert_eq!(super::parse_query("next=https://evil.example/").return_to, "/");
    }
}
