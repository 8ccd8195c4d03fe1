// Handlers answer with the HTTP error response itself: it is large by nature.
#![allow(clippy::result_large_err)]
//! A facility's user office, as Gantry meets it: sign-in with the office's password, the
//! experiments of a user (proposals with beamtime sessions and where their data are),
//! Umbrella hashes, and whether a user may launch resources. It runs on its own
//! (`gantry user-office-local`), inside `gantry demo`, and in tests.

pub mod api;
pub mod config;

pub use api::Office;
pub use config::OfficeConfig;

use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// The office's HTTP application.
pub fn router(office: Office) -> axum::Router {
    api::routes().with_state(office)
}

/// Serves the office on a bound listener; returns its address, the running office and
/// the serving future.
pub fn start(
    config: OfficeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(SocketAddr, Office, impl Future<Output = anyhow::Result<()>>)> {
    let addr = listener.local_addr()?;
    let base = config.base_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let office = Office::new(config, &base);
    let app = router(office.clone());
    Ok((addr, office, async move {
        axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
        Ok(())
    }))
}
