//! Transfer and delete tasks, run by a background worker that really copies files
//! between endpoint roots. Tasks are persisted after every file (and every few MiB of a
//! large one), so counters move while they run and an interrupted task continues after
//! a restart. A destination file appears under its final name only once complete.

mod api;
pub mod model;
mod outcomes;
mod worker;

pub use api::routes;
pub(crate) use api::{cancel_task, events_doc, pause_info_doc};
pub(crate) use outcomes::{skipped, successful};
pub use worker::worker;
