//! Transfer and delete tasks, run by a background worker that really copies files
//! between endpoint roots. Tasks are persisted after every file (and every few MiB of a
//! large one), so counters move while they run and an interrupted task continues after
//! a restart. A destination file appears under its final name only once complete.

mod api;
pub mod model;
mod outcomes;
mod worker;

pub(crate) use api::{cancel_task, events_doc, pause_info_doc};
pub(crate) use outcomes::{skipped, successful};
pub use worker::worker;

/// The task API's routes.
pub fn routes() -> axum::Router<crate::service::Service> {
    use axum::routing::get;
    api::routes()
        .route("/v0.10/task/{id}/successful_transfers", get(outcomes::successful_transfers))
        .route("/v0.10/task/{id}/skipped_errors", get(outcomes::skipped_errors))
}
