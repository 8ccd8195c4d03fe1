//! Device sign-in for the CLI (`/api/v1/device/…`) and what a client needs to know to
//! sign in (`/api/v1/auth`).

use super::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gantry_api_types::{DeviceAuthorization, DeviceToken};
use gantry_app::App;
use gantry_app::identity::device::Poll;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize, Default)]
pub(super) struct AuthorizeBody {
    #[serde(default)]
    client_name: String,
}

#[utoipa::path(post, path = "/api/v1/device/authorize", tag = "sign-in", summary = "Starts a device sign-in for the CLI", security(()),
    responses((status = 200, body = DeviceAuthorization)))]
pub(super) async fn authorize(
    State(app): State<App>,
    crate::web::Peer(from): crate::web::Peer,
    body: Option<Json<AuthorizeBody>>,
) -> ApiResult<Json<DeviceAuthorization>> {
    let name = body.map(|b| b.0.client_name).unwrap_or_default();
    Ok(Json(app.devices.authorize(&name, from).await?))
}

#[derive(Deserialize)]
pub(super) struct TokenBody {
    device_code: String,
}

#[utoipa::path(post, path = "/api/v1/device/token", tag = "sign-in", summary = "Polls a device sign-in; the API token comes once", security(()),
    responses((status = 200, body = DeviceToken),
        (status = 400, description = "authorization_pending, slow_down, access_denied, expired_token or invalid_grant")))]
pub(super) async fn token(State(app): State<App>, body: Json<TokenBody>) -> ApiResult<Response> {
    Ok(match app.devices.poll(&body.device_code).await? {
        Poll::Token(t) => Json(t).into_response(),
        Poll::Pending(p, why) => {
            (StatusCode::BAD_REQUEST, Json(json!({"error": p.code(), "error_description": why}))).into_response()
        }
    })
}

#[utoipa::path(get, path = "/api/v1/auth", tag = "sign-in", summary = "How to sign in: providers, device login, Globus", security(()),
    responses((status = 200, description = "Sign-in providers and Globus settings")))]
/// Providers, and Globus for `gantry login --globus`.
pub(super) async fn auth_info(State(app): State<App>) -> Json<Value> {
    let (providers, password_login) = app.signin.providers();
    let providers: Vec<Value> =
        providers.iter().map(|p| json!({"id": p.id, "kind": p.kind, "name": p.title})).collect();
    let globus = app.config.resource_server.as_ref().map(|rs| {
        json!({"auth_url": rs.auth_url(), "native_client_id": rs.native_client_id, "scope": rs.scope(),
               "resource_server": rs.client_id})
    });
    Json(json!({"providers": providers, "password_login": password_login,
                "device_login": format!("{}/api/v1/device/authorize", app.public_url), "globus": globus}))
}
