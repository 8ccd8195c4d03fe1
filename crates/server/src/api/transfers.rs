//! `/api/v1/transfers`: sending images to Globus endpoints, following and cancelling.

use super::{ApiResult, Caller};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gantry_api_types::ErrorBody;
use gantry_api_types::{NewTransfer, TransferInfo, TransferList};
use gantry_app::App;

#[utoipa::path(get, path = "/api/v1/transfers", tag = "transfers", summary = "The caller's transfers, newest first",
    responses((status = 200, body = TransferList)))]
pub(super) async fn list(State(app): State<App>, caller: Caller) -> ApiResult<Json<TransferList>> {
    let p = caller.require()?;
    Ok(Json(TransferList { transfers: app.transfers()?.transfers(p, 200).await? }))
}

#[utoipa::path(get, path = "/api/v1/transfers/{id}", tag = "transfers", summary = "One transfer (the caller's, or any for an admin)",
    params(("id" = String, Path, description = "Transfer id")),
    responses((status = 200, body = TransferInfo), (status = 404, body = ErrorBody)))]
pub(super) async fn show(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TransferInfo>> {
    let p = caller.require()?;
    let t = app.transfers()?;
    Ok(Json(t.info(&t.transfer_of(p, &id).await?)))
}

#[utoipa::path(post, path = "/api/v1/transfers", tag = "transfers", summary = "Sends a SIF image or dataset to a Globus endpoint",
    request_body = NewTransfer,
    responses((status = 202, body = TransferInfo), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, description = "Too many transfers under way", body = ErrorBody)))]
pub(super) async fn create(
    State(app): State<App>,
    caller: Caller,
    body: Json<NewTransfer>,
) -> ApiResult<(StatusCode, Json<TransferInfo>)> {
    let p = caller.require_write()?;
    let t = app.transfers()?;
    let tr = t.start(p, &body).await?;
    Ok((StatusCode::ACCEPTED, Json(t.info(&tr))))
}

#[utoipa::path(post, path = "/api/v1/transfers/{id}/cancel", tag = "transfers", summary = "Cancels a transfer under way",
    params(("id" = String, Path, description = "Transfer id")),
    responses((status = 200, body = TransferInfo), (status = 404, body = ErrorBody),
        (status = 409, description = "It has ended already", body = ErrorBody)))]
pub(super) async fn cancel(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TransferInfo>> {
    let p = caller.require_write()?;
    let t = app.transfers()?;
    Ok(Json(t.info(&t.cancel(p, &id).await?)))
}
