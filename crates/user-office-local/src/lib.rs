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
use std::sync::Arc;
use tokio::net::TcpListener;

/// The office's HTTP application.
pub fn router(office: Office) -> axum::Router {
    api::routes().with_state(office)
}

/// Serves the office on a bound listener; returns its address and the serving future.
pub fn start(
    config: OfficeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(SocketAddr, impl Future<Output = anyhow::Result<()>>)> {
    let addr = listener.local_addr()?;
    let base = config.base_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let office = Office { config: Arc::new(config), base_url: base.trim_end_matches('/').into() };
    let app = router(office);
    Ok((addr, async move {
        axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
        Ok(())
    }))
}
