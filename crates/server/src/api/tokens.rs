//! `/api/v1/tokens`: the caller's API tokens.

use super::{ApiResult, Caller};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gantry_api_types::ErrorBody;
use gantry_api_types::{CreatedToken, NewToken, TokenInfo, TokenList};
use gantry_app::App;
use gantry_domain::time;

#[utoipa::path(get, path = "/api/v1/tokens", tag = "account", summary = "The caller's API tokens (never their secrets)",
    responses((status = 200, body = TokenList), (status = 401, body = ErrorBody)))]
pub(super) async fn list(State(app): State<App>, caller: Caller) -> ApiResult<Json<TokenList>> {
    let p = caller.require()?;
    let tokens = app.tokens.list(p.user_id).await?;
    Ok(Json(TokenList {
        tokens: tokens
            .into_iter()
            .map(|t| TokenInfo {
                id: t.id,
                name: t.name,
                scope: t.scope,
                created: time::rfc3339(t.created_at),
                last_used: t.last_used_at.map(time::rfc3339),
                expires: t.expires_at.map(time::rfc3339),
            })
            .collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "account", summary = "A new API token, shown once",
    request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "The credential is read-only", body = ErrorBody)))]
pub(super) async fn create(
    State(app): State<App>,
    caller: Caller,
    body: Json<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let p = caller.require_write()?;
    let t = app.tokens.issue(p.user_id, &body.name, body.scope, body.expires_days).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id: t.row.id,
            name: t.row.name,
            scope: t.row.scope,
            token: t.secret,
            expires: t.row.expires_at.map(time::rfc3339),
        }),
    ))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "account", summary = "Revokes one of the caller's tokens",
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody)))]
pub(super) async fn revoke(State(app): State<App>, caller: Caller, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    let p = caller.require_write()?;
    app.tokens.revoke(p.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
