//! The Gantry server: OCI distribution API (`/v2`), REST API (`/api/v1`), downloads.

pub mod api;
pub mod auth;
pub mod config;
pub mod device;
pub mod globus_rs;
pub mod oci;
pub mod oidc;
pub mod registry;
pub mod session;
pub mod state;
mod tls;
pub mod transfers;
pub mod ui;
pub mod web;

pub use config::Config;
pub use state::AppState;

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(oci::routes())
        .merge(web::routes())
        .merge(ui::routes())
        .merge(device::routes())
        .merge(transfers::routes())
        .merge(api::routes())
        .with_state(state)
        .layer(axum::middleware::from_fn(access_log))
}

/// Logs method, path, status and time; never headers or query strings (no secrets).
async fn access_log(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let start = std::time::Instant::now();
    let res = next.run(req).await;
    tracing::info!(target: "gantry::http", %method, path, status = res.status().as_u16(), ms = start.elapsed().as_millis() as u64);
    res
}

/// Aborts a background task when the server stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
}

/// Binds the configured address and serves until `shutdown` resolves.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let (running, fut) = start(config, listener, shutdown).await?;
    tracing::info!("Gantry listening on {} (public URL {})", running.addr, running.state.public_url);
    fut.await
}

/// Opens the stores and returns the server future for an already bound listener.
pub async fn start(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(Running, impl Future<Output = anyhow::Result<()>>)> {
    let addr = listener.local_addr()?;
    let public_url = config.public_url(Some(addr));
    let tls = match (&config.tls_cert_file, &config.tls_key_file) {
        (Some(c), Some(k)) => Some(tls::acceptor(c, k)?),
        _ => None,
    };
    let state = AppState::open(config, public_url).await?;
    let app = router(state.clone());
    let follower = tokio::spawn(transfers::follower(state.clone()));
    let fut = async move {
        let _stop_following = AbortOnDrop(follower);
        match tls {
            None => axum::serve(listener, app).with_graceful_shutdown(shutdown).await?,
            Some(acceptor) => tls::serve(listener, acceptor, app, shutdown).await?,
        }
        Ok(())
    };
    Ok((Running { addr, state }, fut))
}
