//! Gantry's HTTP front doors: the OCI distribution API (`oci`, `/v2`), the REST API and
//! downloads (`api`, `/api/v1`, `/download`), and the web (`web`: sign-in, Globus
//! connect, device approval, pages). Handlers parse, call one `gantry-app` operation,
//! render; no rule lives here.

pub mod api;
mod blob_body;
pub mod credentials;
mod listen;
pub mod oci;
mod tls;
pub mod web;

pub use gantry_app::{App, Config};

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// The whole HTTP application.
pub fn router(app: App) -> Router {
    Router::new()
        .merge(oci::routes())
        .merge(web::routes())
        .merge(api::routes())
        .layer(axum::middleware::from_fn_with_state(app.clone(), web::error::pages))
        .with_state(app)
        .layer(axum::middleware::from_fn(hardening))
        .layer(axum::middleware::from_fn(access_log))
}

/// The policy the pages satisfy: their one script and stylesheet come from `/static`,
/// forms and fetches go to this server, and no other site may frame them.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Headers every answer carries unless its handler chose otherwise: no framing (also for
/// browsers without CSP), no MIME sniffing, no paths leaked to other sites in `Referer`.
async fn hardening(req: Request, next: Next) -> Response {
    use axum::http::{HeaderValue, header};
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    }
    res
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
    pub app: App,
}

/// Binds the configured address and serves until `shutdown` resolves.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let (running, fut) = start(config, listener, shutdown).await?;
    tracing::info!("Gantry listening on {} (public URL {})", running.addr, running.app.public_url);
    fut.await
}

/// Opens the application and returns the server future for an already bound listener.
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
    let app = App::open(config, public_url).await?;
    let router = router(app.clone());
    let background = tokio::spawn(app.clone().background());
    let limits = app.config.limits.clone();
    let fut = async move {
        let _stop = AbortOnDrop(background);
        listen::serve(listener, tls, router, limits, shutdown).await?;
        Ok(())
    };
    Ok((Running { addr, app }, fut))
}
