//! Sending images to Globus endpoints.
//!
//! - Users connect their Globus account (`connection`); the tokens are kept sealed and
//!   refreshed by Gantry.
//! - Gantry's storage is a Globus collection whose root is `<data_dir>/exports`. For each
//!   transfer, the image's blobs are hard-linked under `exports/<export id>/` with the
//!   names they arrive with (`start`), and a read rule on that one directory is given to
//!   the user's identity. When the task ends, however it ends, the rule and the links go.
//!   Public images are exposed the same way: there is no standing rule, only rules for
//!   the identity of a transfer under way.
//! - Experiment data are sent from the facility's own collection (`data`), whose root is
//!   the datasets root: the user's identity gets a read rule on each folder sent for the
//!   duration of the task, in the same way.
//! - Each transfer is a persisted job (`job`): its submission id is stored before
//!   submitting, so a retry (or a restart) can never start a second task; the follower
//!   polls the task with backoff and cleans up at the end; at start-up a reconciler
//!   removes rules and exports that no unfinished transfer owns.

pub mod connection;
pub mod data;
pub mod endpoints;
pub mod job;
pub mod start;

use crate::config::{ProviderConfig, ProviderKind, TransferConfig};
use crate::facility::Facility;
use crate::identity::flow::Flows;
use crate::identity::oidc::Oidc;
use crate::identity::sealer::Sealer;
use crate::jobs::Jobs;
use crate::registry::Registry;
use gantry_api_types::TransferInfo;
use gantry_domain::{Error, ErrorKind, Principal, Result, time};
use gantry_globus::Globus;
use gantry_store::{Store, TransferRow};
use std::path::PathBuf;
use std::sync::Arc;

pub use connection::reauth_link;
/// An endpoint document as Globus gives it (its typed fields and the rest).
pub use gantry_globus::Endpoint as GlobusEndpoint;

pub const TRANSFER_SCOPE: &str = "urn:globus:auth:scope:transfer.api.globus.org:all";
pub(crate) const TRANSFER_RS: &str = "transfer.api.globus.org";
/// The name the Globus connection's sign-in flows are kept under.
pub(crate) const CONNECT: &str = "globus-connect";

/// The transfer service: configuration, the Globus client and Gantry's own token.
pub struct Transfers {
    pub cfg: TransferConfig,
    globus: Globus,
    oidc: Oidc,
    manager: tokio::sync::Mutex<Option<(String, i64)>>,
    exports: PathBuf,
    store: Store,
    sealer: Sealer,
    registry: Registry,
    flows: Flows,
    jobs: Jobs,
    public_url: Arc<str>,
    facility: Option<Facility>,
    /// Rules on the facility's collection are given and removed one at a time (two
    /// transfers of the same folder share one).
    rules_lock: tokio::sync::Mutex<()>,
}

/// Maps a Globus error to what the user should be told (and do).
pub(crate) fn from_globus(e: gantry_globus::Error) -> Error {
    if let gantry_globus::Error::Api { code, required_scopes, .. } = &e
        && code == "ConsentRequired"
        && !required_scopes.is_empty()
    {
        let q: Vec<String> = required_scopes.iter().map(|s| format!("scope={}", gantry_globus::urlencode(s))).collect();
        return Error::denied(format!(
            "Globus needs your consent to use that collection: open /globus/connect?{} on this server \
             (or run gantry globus connect --scope '{}')",
            q.join("&"),
            required_scopes.join(" ")
        ));
    }
    if let gantry_globus::Error::Api { authorization_parameters: Some(params), .. } = &e {
        // A collection's policy wants a fresher or different sign-in: say so, and how.
        let why = params["session_message"]
            .as_str()
            .unwrap_or("This collection requires a recent sign-in that meets its policy")
            .trim_end_matches('.')
            .to_string();
        // Say which identity will do, when the collection names its domains.
        let domains: Vec<&str> = params["session_required_single_domain"]
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default();
        let why = if domains.is_empty() || why.contains(domains[0]) {
            why
        } else {
            format!("{why}, with an identity from {}", domains.join(" or "))
        };
        let link = reauth_link(params);
        return Error::reauthenticate(format!("{why}. Sign in again with Globus: {link}"), params.clone());
    }
    if e.needs_reconnect() {
        return Error::denied(format!(
            "Globus refused your connection ({}): reconnect Globus (gantry globus connect, or /globus/connect)",
            e.code()
        ));
    }
    // What Globus said, in words a person can act on (its code kept for support).
    let said = match &e {
        gantry_globus::Error::Api { message, code, .. } => format!("{} ({code})", message.trim_end_matches('.')),
        _ => e.to_string(),
    };
    let code = e.code();
    if code.ends_with(".Exists") {
        return Error::new(ErrorKind::Conflict, format!("Globus: that name is already taken: {said}"));
    }
    if code.contains("PermissionDenied") || e.status() == Some(403) {
        return Error::denied(format!(
            "Globus: you have no permission there: {said}. Choose another folder or endpoint, or ask its owner \
             for access."
        ));
    }
    match e.status() {
        Some(404) => Error::not_found(format!("Globus: no such endpoint, folder or task: {said}")),
        Some(409) => Error::new(ErrorKind::Conflict, format!("Globus: {said}")),
        Some(s) if (400..500).contains(&s) => Error::invalid(format!("Globus refused the request: {said}")),
        _ => Error::new(ErrorKind::Unavailable, format!("Globus is not answering properly: {e}")),
    }
}

/// The parts the transfer service is made of.
pub struct Parts {
    pub store: Store,
    pub sealer: Sealer,
    pub registry: Registry,
    pub flows: Flows,
    pub jobs: Jobs,
    pub http: reqwest::Client,
    pub public_url: Arc<str>,
    pub data_dir: PathBuf,
    pub facility: Option<Facility>,
}

impl Transfers {
    pub fn new(cfg: TransferConfig, p: Parts) -> anyhow::Result<Transfers> {
        let exports = p.data_dir.join("exports");
        std::fs::create_dir_all(&exports)?;
        let oidc = Oidc::new(
            ProviderConfig {
                id: CONNECT.into(),
                kind: ProviderKind::Globus,
                display_name: "Globus".into(),
                issuer: Some(cfg.auth_url.clone()),
                client_id: Some(cfg.client_id.clone()),
                client_secret: cfg.client_secret.clone(),
                client_secret_file: None,
                scopes: std::iter::once(TRANSFER_SCOPE.to_string()).chain(cfg.extra_scopes.iter().cloned()).collect(),
                groups_url: None,
                url: None,
            },
            p.http.clone(),
        );
        let globus = Globus::new(p.http, &cfg.auth_url, &cfg.transfer_url);
        Ok(Transfers {
            cfg,
            globus,
            oidc,
            manager: tokio::sync::Mutex::new(None),
            exports,
            store: p.store,
            sealer: p.sealer,
            registry: p.registry,
            flows: p.flows,
            jobs: p.jobs,
            public_url: p.public_url,
            facility: p.facility,
            rules_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The facility whose data may be sent, or why there is none.
    fn facility(&self) -> Result<&Facility> {
        self.facility
            .as_ref()
            .ok_or_else(|| Error::new(ErrorKind::Unsupported, "this server has no [facility] configured"))
    }

    fn secret(&self) -> &str {
        self.cfg.client_secret.as_deref().unwrap_or_default()
    }

    /// Gantry's own Transfer token (client credentials), for the storage collection's rules.
    async fn manager_token(&self) -> Result<String> {
        let mut m = self.manager.lock().await;
        if let Some((t, exp)) = m.as_ref()
            && *exp > time::now_unix() + 60
        {
            return Ok(t.clone());
        }
        let v =
            self.globus.client_credentials(&self.cfg.client_id, self.secret(), TRANSFER_SCOPE).await.map_err(|e| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("Gantry's own Globus client cannot get a Transfer token: {e}"),
                )
            })?;
        let t = v
            .for_server(TRANSFER_RS)
            .filter(|t| !t.access_token.is_empty())
            .ok_or_else(|| Error::new(ErrorKind::Unavailable, "Globus sent Gantry no Transfer token"))?;
        let exp = time::now_unix() + t.expires_in.unwrap_or(3600);
        let t = t.access_token.clone();
        *m = Some((t.clone(), exp));
        Ok(t)
    }

    /// A transfer of `p`'s (any, for an admin).
    pub async fn transfer_of(&self, p: &Principal, id: &str) -> Result<TransferRow> {
        self.store
            .transfer(id)
            .await?
            .filter(|t| t.user_id == p.user_id || p.is_admin)
            .ok_or_else(|| Error::not_found(format!("no transfer {id}")))
    }

    /// The user's transfers, newest first.
    pub async fn transfers(&self, p: &Principal, limit: i64) -> Result<Vec<TransferInfo>> {
        Ok(self.store.transfers_of(p.user_id, limit).await?.iter().map(|t| self.info(t)).collect())
    }

    /// Transfers whose rules and exports are not yet removed, with their user's name (the admin page).
    pub async fn unfinished(&self) -> Result<Vec<(TransferRow, String)>> {
        let mut out = vec![];
        for t in self.store.unclean_transfers().await? {
            let who = self.store.user_by_id(t.user_id).await?.map(|u| u.username).unwrap_or_default();
            out.push((t, who));
        }
        Ok(out)
    }

    /// With real Globus, the task's page in the Globus web app.
    pub fn globus_task_url(&self, tr: &TransferRow) -> Option<String> {
        tr.task_id
            .as_ref()
            .filter(|_| self.cfg.transfer_url.contains("api.globus.org"))
            .map(|id| format!("https://app.globus.org/activity/{id}"))
    }

    pub fn info(&self, tr: &TransferRow) -> TransferInfo {
        TransferInfo {
            id: tr.id.clone(),
            reference: tr.image_ref.clone(),
            experiment: tr.experiment.clone(),
            session: tr.session_number,
            source_path: tr.source_path.clone(),
            digest: tr.digest.clone(),
            endpoint_id: tr.endpoint_id.clone(),
            endpoint_name: tr.endpoint_name.clone(),
            path: tr.path.clone(),
            label: tr.label.clone(),
            status: tr.status,
            task_id: tr.task_id.clone(),
            submission_id: tr.submission_id.clone(),
            files: tr.files,
            bytes_transferred: tr.bytes_transferred,
            bytes_total: tr.bytes_total,
            bytes_per_second: tr.rate,
            faults: tr.faults,
            nice_status: tr.nice_status.clone(),
            error: tr.error.clone(),
            events: serde_json::from_str(&tr.events).unwrap_or_default(),
            cleaned_up: tr.cleaned,
            created: time::rfc3339(tr.created_at),
            completed: tr.completed_at.map(time::rfc3339),
            globus_url: self.globus_task_url(tr),
        }
    }
}
