#![recursion_limit = "512"]
// Handlers return the HTTP error response itself as the error: it is large by nature.
#![allow(clippy::result_large_err)]
//! A Globus-compatible service (Auth, Groups, Transfer) that the official `globus` CLI
//! and `globus-sdk` work against unchanged. It runs on its own
//! (`gantry globus-local`) or embedded in another process.

pub mod auth;
pub mod config;
pub mod endpoint_manager;
pub mod error;
pub mod filter;
pub mod groups;
pub mod helpers;
pub mod keys;
pub mod paths;
pub mod pause;
pub mod policy;
pub mod scopes;
pub mod service;
pub mod staged;
pub mod store;
pub mod tasks;
pub mod transfer;
pub mod wire;

pub use config::GlobusConfig;
pub use service::{Service, load_config};

use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use tokio::net::TcpListener;

/// The whole HTTP application of the service.
pub fn router(service: &Service) -> Router {
    let all = crate::auth::routes()
        .merge(crate::groups::routes())
        .merge(crate::transfer::routes())
        .merge(crate::tasks::routes())
        .merge(crate::endpoint_manager::routes())
        .merge(crate::helpers::routes());
    crate::error::with_fallbacks(all).with_state(service.clone())
}

pub struct Running {
    pub addr: SocketAddr,
    pub service: Service,
}

/// Opens the service on a bound listener; returns it and the future that serves it.
pub async fn start(
    config: GlobusConfig,
    data_dir: impl AsRef<Path>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(Running, impl Future<Output = anyhow::Result<()>>)> {
    let addr = listener.local_addr()?;
    let base = config.base_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let service = Service::open(config, data_dir.as_ref(), base).await?;
    crate::groups::seed(&service).await?;
    let app = router(&service);
    let worker = tokio::spawn(crate::tasks::worker(service.clone()));
    let fut = async move {
        let _stop_worker_with_server = AbortOnDrop(worker);
        axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
        Ok(())
    };
    Ok((Running { addr, service }, fut))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
