//! `/api/v1/transfers`: sending images to Globus endpoints, following and cancelling.

use super::{ApiResult, Caller};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gantry_api_types::{NewTransfer, TransferInfo, TransferList};
use gantry_app::App;

pub(super) async fn list(State(app): State<App>, caller: Caller) -> ApiResult<Json<TransferList>> {
    let p = caller.require()?;
    Ok(Json(TransferList { transfers: app.transfers()?.transfers(p, 200).await? }))
}

pub(super) async fn show(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TransferInfo>> {
    let p = caller.require()?;
    let t = app.transfers()?;
    Ok(Json(t.info(&t.transfer_of(p, &id).await?)))
}

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

pub(super) async fn cancel(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TransferInfo>> {
    let p = caller.require_write()?;
    let t = app.transfers()?;
    Ok(Json(t.info(&t.cancel(p, &id).await?)))
}
