//! Starts real Gantry servers in-process on 127.0.0.1:0, on SQLite or on a real
//! PostgreSQL server (`GANTRY_TEST_POSTGRES`, an admin URL; `scripts/test` starts one).

use gantry_app::App;
use gantry_domain::TokenScope;
use gantry_server::Config;
use std::path::PathBuf;
use tokio::sync::oneshot;

pub use gantry_store::Backend;
pub use gantry_store::testing::database_url;

pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub struct TestServer {
    pub url: String,
    pub state: App,
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    pub config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(b: Backend) -> TestServer {
        Self::start_with(b, |_| {}).await
    }

    pub async fn start_with(b: Backend, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(b, listener, tweak).await
    }

    /// [`TestServer::start_with`] on a listener bound beforehand (when the URL has to be
    /// known first, e.g. by a sign-in provider).
    pub async fn start_on(
        b: Backend,
        listener: tokio::net::TcpListener,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        init();
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".into(),
            data_dir: dir.path().join("data"),
            log: "warn".into(),
            ..Config::default()
        };
        config.database_url = Some(database_url(b, dir.path()).await);
        tweak(&mut config);
        Self::start_listener(b, config, dir, listener).await
    }

    pub async fn start_config(b: Backend, config: Config, dir: tempfile::TempDir) -> TestServer {
        let listener = tokio::net::TcpListener::bind(&config.listen).await.unwrap();
        Self::start_listener(b, config, dir, listener).await
    }

    /// Starts on a listener bound beforehand (when the URL has to be known first).
    pub async fn start_listener(
        b: Backend,
        config: Config,
        dir: tempfile::TempDir,
        listener: tokio::net::TcpListener,
    ) -> TestServer {
        let (tx, rx) = oneshot::channel::<()>();
        let (running, fut) = gantry_server::start(config.clone(), listener, async move {
            let _ = rx.await;
        })
        .await
        .expect("server starts");
        let task = tokio::spawn(async move {
            fut.await.expect("server runs");
        });
        TestServer {
            url: format!("http://{}", running.addr),
            state: running.app,
            dir,
            backend: b,
            config,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server and starts a new one on the same data (a restart).
    pub async fn restart(mut self) -> TestServer {
        self.stop().await;
        let mut config = self.config.clone();
        config.listen = "127.0.0.1:0".into();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        Self::start_config(self.backend, config, dir).await
    }

    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.state.store().close().await;
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// Creates a user and a write token; returns the token.
    pub async fn user(&self, name: &str) -> String {
        self.user_with(name, false, TokenScope::Write).await
    }

    pub async fn admin(&self, name: &str) -> String {
        self.user_with(name, true, TokenScope::Write).await
    }

    pub async fn user_with(&self, name: &str, admin: bool, scope: TokenScope) -> String {
        if self.state.store().user_by_name(name).await.unwrap().is_none() {
            gantry::admin::create_user(&self.state, name, admin, None).await.unwrap();
        }
        gantry::admin::create_token(&self.state, name, "test", scope, None).await.unwrap()
    }

    pub fn v2(&self, path: &str) -> String {
        format!("{}/v2/{}", self.url, path.trim_start_matches('/'))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn http() -> reqwest::Client {
    init();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// Authorization helper: `Basic user:token`.
pub fn basic(user: &str, token: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}")))
}

/// GET `url` (with a bearer token, if any); the body as JSON.
pub async fn json_of(url: &str, bearer: Option<&str>) -> serde_json::Value {
    let mut r = http().get(url);
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap().json().await.unwrap()
}

/// Sends a request and reads its answer as JSON.
pub async fn answer(req: reqwest::RequestBuilder) -> serde_json::Value {
    req.send().await.unwrap().json().await.unwrap()
}

/// A browser of sorts: keeps cookies (of every host) and does not follow redirects.
pub struct Browser {
    pub c: reqwest::Client,
    pub cookies: std::collections::HashMap<String, String>,
}

impl Browser {
    pub fn new() -> Browser {
        crate::harness::init();
        Browser { c: crate::harness::http(), cookies: Default::default() }
    }
    pub fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }
    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            if let Some((kv, _)) = v.to_str().unwrap().split_once(';')
                && let Some((k, v)) = kv.split_once('=')
            {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
    }
    pub async fn get(&mut self, url: &str) -> (reqwest::StatusCode, String, Option<String>) {
        let r = self.c.get(url).header("cookie", self.cookie_header()).send().await.unwrap();
        self.keep(&r);
        let loc = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        (r.status(), r.text().await.unwrap(), loc)
    }
    /// GET as a browser opening a page (`Accept: text/html…`), from `referer` if given.
    pub async fn navigate(
        &mut self,
        url: &str,
        referer: Option<&str>,
    ) -> (reqwest::StatusCode, reqwest::header::HeaderMap, String) {
        let mut rq = self
            .c
            .get(url)
            .header("cookie", self.cookie_header())
            .header("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
        if let Some(r) = referer {
            rq = rq.header("referer", r);
        }
        let r = rq.send().await.unwrap();
        self.keep(&r);
        let h = r.headers().clone();
        (r.status(), h, r.text().await.unwrap())
    }
    /// GET with the browser's cookies, the body as JSON.
    pub async fn json(&self, url: &str) -> serde_json::Value {
        let r = self.c.get(url).header("cookie", self.cookie_header()).send().await.unwrap();
        r.json().await.unwrap()
    }
    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> (reqwest::StatusCode, String, Option<String>) {
        let r = self.c.post(url).header("cookie", self.cookie_header()).form(form).send().await.unwrap();
        self.keep(&r);
        let loc = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        (r.status(), r.text().await.unwrap(), loc)
    }
}

pub fn hidden(html: &str, name: &str) -> String {
    let pat = format!("name=\"{name}\" value=\"");
    let i = html.find(&pat).unwrap_or_else(|| panic!("no {name} in {html}")) + pat.len();
    html[i..].split('"').next().unwrap().to_string()
}
