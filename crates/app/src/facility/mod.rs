//! The facility: experiments synced from its user office (after a sign-in, and every
//! `sync_secs` for every linked user), who sees which (members by facility username;
//! administrators see all), favourites, and the experiments' data served in place.
//!
//! - [`office`]: the user office's REST contract, checked field by field;
//! - [`data`]: paths under the datasets root, listings and files;
//! - [`import`]: experiments and members from a CSV file.

pub mod data;
pub mod import;
pub mod office;

use crate::config::FacilityConfig;
use gantry_api_types::{DataEntryInfo, DataListing, ExperimentInfo, ExperimentPage, SessionInfo};
use gantry_domain::{Error, JobKind, Principal, Result, time};
use gantry_store::{ExperimentQuery, ExperimentRow, ExperimentSessionRow, Store};
use office::Office;
use std::sync::Arc;

/// How a Gantry user came to be a facility user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkedBy {
    /// Signed in with the facility's user office.
    Office,
    /// Signed in with Umbrella; the office named the user behind the EAA hash.
    Umbrella,
    /// An operator said so.
    Operator,
}

impl LinkedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkedBy::Office => "office",
            LinkedBy::Umbrella => "umbrella",
            LinkedBy::Operator => "operator",
        }
    }
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    pub experiments: usize,
    pub skipped: usize,
}

/// A listing of experiments as asked for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub search: String,
    pub favorites_only: bool,
    pub ordering: String,
    pub page: i64,
    pub page_size: i64,
}

#[derive(Clone)]
pub struct Facility {
    pub cfg: Arc<FacilityConfig>,
    store: Store,
    office: Office,
    public_url: Arc<str>,
    jobs: crate::jobs::Jobs,
}

/// An experiment the caller may see, with the caller's facility username.
pub struct Seen {
    pub experiment: ExperimentRow,
    pub sessions: Vec<ExperimentSessionRow>,
}

fn volumes_of(s: &ExperimentSessionRow) -> Vec<(String, String)> {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&s.data_set_path) {
        Ok(m) => m.into_iter().filter_map(|(k, v)| Some((k, v.as_str()?.to_string()))).collect(),
        Err(_) => vec![],
    }
}

impl Facility {
    pub fn new(
        cfg: FacilityConfig,
        store: Store,
        http: reqwest::Client,
        public_url: Arc<str>,
        jobs: crate::jobs::Jobs,
    ) -> Facility {
        let office = Office::new(cfg.clone(), http);
        Facility { cfg: Arc::new(cfg), store, office, public_url, jobs }
    }

    pub fn office(&self) -> &Office {
        &self.office
    }

    /// The caller's facility username.
    pub async fn account(&self, user_id: i64) -> Result<Option<String>> {
        self.store.facility_account(user_id).await
    }

    /// The Gantry user linked to a facility user.
    pub async fn user_of_account(&self, username: &str) -> Result<Option<i64>> {
        self.store.user_of_facility_account(username).await
    }

    /// Links a Gantry user to the facility user `username` and syncs that user's
    /// experiments in the background (a failure there is recorded, not raised).
    pub async fn link(&self, user_id: i64, username: &str, by: LinkedBy) -> Result<()> {
        self.store.bind_facility_account(user_id, username, by.as_str()).await?;
        let me = self.clone();
        let u = username.to_string();
        tokio::spawn(async move {
            let _ = me.sync(&u).await;
        });
        Ok(())
    }

    /// Syncs one facility user's experiments from the user office. When the office
    /// cannot be read, the failure is recorded and nothing synced before changes.
    pub async fn sync(&self, username: &str) -> Result<SyncReport> {
        match self.office.experiments(username).await {
            Ok(f) => {
                self.store.apply_office_sync(username, &f.experiments).await?;
                Ok(SyncReport { experiments: f.experiments.len(), skipped: f.skipped.len() })
            }
            Err(e) => {
                tracing::warn!(user = username, "experiments not synced: {}", e.message);
                self.store.record_sync_failure(username, e.public_message()).await?;
                Err(e)
            }
        }
    }

    /// Imports experiments, sessions and members from CSV text (see [`import`]); returns
    /// how many experiments and memberships it holds.
    pub async fn import(&self, text: &str) -> Result<(usize, usize)> {
        let found = import::parse(text)?;
        self.store.import_experiments(&found).await?;
        Ok((found.len(), found.iter().map(|f| f.1.len()).sum()))
    }

    /// Syncs every linked facility user (one run at a time across processes).
    pub async fn sync_all(&self) -> Result<(usize, usize)> {
        let me = self.clone();
        self.jobs
            .exclusive(JobKind::FacilitySync, std::time::Duration::from_secs(3600), async move {
                let (mut ok, mut failed) = (0, 0);
                for u in me.store.facility_usernames().await? {
                    match me.sync(&u).await {
                        Ok(_) => ok += 1,
                        Err(_) => failed += 1,
                    }
                }
                Ok((ok, failed))
            })
            .await
    }

    /// Syncs everyone every `sync_secs`, until Gantry stops.
    pub async fn keep_synced(self) {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(self.cfg.sync_secs)).await;
            match self.sync_all().await {
                Ok((ok, failed)) => tracing::info!(ok, failed, "experiments synced"),
                Err(e) => tracing::warn!("experiment sync did not run: {}", e.message),
            }
        }
    }

    /// A page of the experiments the caller may see: their own (by facility username),
    /// or all for administrators.
    pub async fn list(&self, p: &Principal, q: &ListQuery) -> Result<ExperimentPage> {
        if q.search.len() > 200 {
            return Err(Error::invalid("search text is longer than 200 characters"));
        }
        let account = self.account(p.user_id).await?;
        let page_size = if q.page_size == 0 { 20 } else { q.page_size.clamp(1, 100) };
        let page = q.page.max(1);
        let (rows, count) = match (&account, p.is_admin) {
            (None, false) => (vec![], 0),
            (member, admin) => {
                let search = q.search.to_lowercase();
                let eq = ExperimentQuery {
                    member: if admin { None } else { member.as_deref() },
                    user_id: p.user_id,
                    search: &search,
                    favorites_only: q.favorites_only,
                    ordering: &q.ordering,
                    offset: (page - 1).saturating_mul(page_size),
                    limit: page_size,
                };
                self.store.list_experiments(&eq).await?
            }
        };
        let sync = match &account {
            Some(u) => self.store.sync_state(u).await?,
            None => None,
        };
        let old = sync
            .as_ref()
            .and_then(|s| s.synced_at)
            .is_none_or(|t| time::now_unix() - t > 2 * self.cfg.sync_secs as i64);
        Ok(ExperimentPage {
            count,
            page,
            page_size,
            results: rows.into_iter().map(|(e, fav)| info(&e, fav)).collect(),
            stale: account.is_some() && (sync.as_ref().is_some_and(|s| s.error.is_some()) || old),
            synced: sync.as_ref().and_then(|s| s.synced_at).map(time::rfc3339),
            sync_error: sync.and_then(|s| s.error),
            facility_username: account,
        })
    }

    /// An experiment the caller may see (a member, or an administrator); 404 otherwise.
    pub async fn seen(&self, p: &Principal, proposal_id: &str) -> Result<Seen> {
        let missing = || Error::not_found(format!("no experiment {proposal_id:?} that you may see"));
        if !office::is_safe_id(proposal_id) {
            return Err(missing());
        }
        let Some(e) = self.store.experiment(proposal_id).await? else { return Err(missing()) };
        if !p.is_admin {
            let member = match self.account(p.user_id).await? {
                Some(u) => self.store.is_experiment_member(proposal_id, &u).await?,
                None => false,
            };
            if !member {
                return Err(missing());
            }
        }
        let sessions = self.store.experiment_sessions(proposal_id).await?;
        Ok(Seen { experiment: e, sessions })
    }

    /// An experiment with its sessions (and, for administrators, its members).
    pub async fn get(&self, p: &Principal, proposal_id: &str) -> Result<ExperimentInfo> {
        let s = self.seen(p, proposal_id).await?;
        let fav = self.store.is_favorite(p.user_id, proposal_id).await?;
        let mut i = info(&s.experiment, fav);
        i.sessions = Some(
            s.sessions
                .iter()
                .map(|x| SessionInfo {
                    session_number: x.session_number,
                    subject: x.subject.clone(),
                    body: x.body.clone(),
                    start_date: x.start_date.clone(),
                    end_date: x.end_date.clone(),
                    volumes: volumes_of(x).into_iter().map(|v| v.0).collect(),
                })
                .collect(),
        );
        if p.is_admin {
            i.members = Some(self.store.experiment_members(proposal_id).await?.into_iter().map(|m| m.0).collect());
        }
        Ok(i)
    }

    pub async fn set_favorite(&self, p: &Principal, proposal_id: &str, on: bool) -> Result<()> {
        self.seen(p, proposal_id).await?;
        self.store.set_favorite(p.user_id, proposal_id, on).await
    }

    /// Whether the caller may launch facility resources (the office says, unless
    /// `default_authorization`).
    pub async fn authorized(&self, p: &Principal) -> Result<bool> {
        match self.account(p.user_id).await? {
            Some(u) => self.office.is_authorized(&u).await,
            None => Ok(self.cfg.default_authorization),
        }
    }

    /// A session of an experiment the caller may see.
    async fn session_of(&self, p: &Principal, proposal_id: &str, session: i64) -> Result<ExperimentSessionRow> {
        let s = self.seen(p, proposal_id).await?;
        s.sessions
            .into_iter()
            .find(|x| x.session_number == session)
            .ok_or_else(|| Error::not_found(format!("experiment {proposal_id} has no session {session}")))
    }

    /// The session's volume directory and the canonical path of `path` (`VOLUME/sub…`)
    /// under it, for a caller who may see the experiment.
    async fn locate(
        &self,
        p: &Principal,
        proposal_id: &str,
        session: i64,
        path: &str,
    ) -> Result<(std::path::PathBuf, std::path::PathBuf, String)> {
        let sess = self.session_of(p, proposal_id, session).await?;
        let path = path.trim_matches('/');
        let (vol, sub) = path.split_once('/').unwrap_or((path, ""));
        let rel = volumes_of(&sess)
            .into_iter()
            .find(|v| v.0 == vol)
            .map(|v| v.1)
            .ok_or_else(|| Error::not_found(format!("session {session} has no volume {vol:?}")))?;
        let root = self.cfg.datasets_root.clone();
        let sub = sub.to_string();
        let (volume, at) = tokio::task::spawn_blocking(move || {
            let v = data::volume_dir(&root, &rel)?;
            let at = data::resolve(&v, &sub)?;
            Ok::<_, Error>((v, at))
        })
        .await
        .map_err(|e| Error::internal(format!("path lookup stopped: {e}")))??;
        Ok((volume, at, path.to_string()))
    }

    /// `path` of a session's data: empty for its volumes, `VOLUME/sub/folder` for one folder.
    pub async fn files(&self, p: &Principal, proposal_id: &str, session: i64, path: &str) -> Result<DataListing> {
        let path = path.trim_matches('/');
        let base = format!("{}/data/{proposal_id}/{session}", self.public_url);
        if path.is_empty() {
            let sess = self.session_of(p, proposal_id, session).await?;
            let entries = volumes_of(&sess)
                .into_iter()
                .map(|(v, _)| DataEntryInfo {
                    path: v.clone(),
                    name: v,
                    kind: "dir".into(),
                    size: 0,
                    modified: String::new(),
                    download_url: None,
                })
                .collect();
            return Ok(DataListing {
                proposal_id: proposal_id.into(),
                session_number: session,
                path: String::new(),
                entries,
                truncated: false,
            });
        }
        let (volume, dir, path) = self.locate(p, proposal_id, session, path).await?;
        // A file lists as itself (as `ls FILE` does).
        let (folder, (list, truncated)) = tokio::task::spawn_blocking(move || match data::file(dir.clone()) {
            Ok(f) => {
                let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let modified = (f.modified_nanos / 1_000_000_000) as i64;
                Ok((false, (vec![data::DataEntry { name, is_dir: false, size: f.size, modified }], false)))
            }
            Err(_) => data::list(&volume, &dir).map(|l| (true, l)),
        })
        .await
        .map_err(|e| Error::internal(format!("listing stopped: {e}")))??;
        let parent =
            if folder { path.clone() } else { path.rsplit_once('/').map(|p| p.0.to_string()).unwrap_or_default() };
        let entries = list
            .into_iter()
            .map(|e| {
                let at = format!("{parent}/{}", e.name);
                DataEntryInfo {
                    download_url: (!e.is_dir).then(|| format!("{base}/{}", gantry_domain::url::escape_path(&at))),
                    kind: if e.is_dir { "dir" } else { "file" }.into(),
                    size: e.size,
                    modified: time::rfc3339(e.modified),
                    name: e.name,
                    path: at,
                }
            })
            .collect();
        Ok(DataListing { proposal_id: proposal_id.into(), session_number: session, path, entries, truncated })
    }

    /// What of a session goes with Globus, for a caller who may see it: every volume
    /// (arriving as `ID-SESSION/VOLUME/`) when `path` is empty, otherwise that folder
    /// (arriving as `FOLDER/`) or file. Paths are on the facility's collection, whose root
    /// is the datasets root.
    pub async fn globus_items(
        &self,
        p: &Principal,
        proposal_id: &str,
        session: i64,
        path: &str,
    ) -> Result<Vec<data::DataItem>> {
        let mut found = vec![];
        if path.trim_matches('/').is_empty() {
            let sess = self.session_of(p, proposal_id, session).await?;
            for (vol, _) in volumes_of(&sess) {
                let (_, at, _) = self.locate(p, proposal_id, session, &vol).await?;
                found.push((at, format!("{proposal_id}-{session}/{vol}")));
            }
            if found.is_empty() {
                return Err(Error::not_found(format!("session {session} of {proposal_id} has no data")));
            }
        } else {
            let (_, at, _) = self.locate(p, proposal_id, session, path).await?;
            let name = at.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            found.push((at, name));
        }
        let root = self.cfg.datasets_root.clone();
        tokio::task::spawn_blocking(move || {
            found.into_iter().map(|(at, dest)| data::DataItem::of(&root, &at, dest)).collect::<Result<Vec<_>>>()
        })
        .await
        .map_err(|e| Error::internal(format!("looking at the data stopped: {e}")))?
    }

    /// One file of a session's data, to stream.
    pub async fn file(&self, p: &Principal, proposal_id: &str, session: i64, path: &str) -> Result<data::DataFile> {
        let (_, at, _) = self.locate(p, proposal_id, session, path).await?;
        tokio::task::spawn_blocking(move || data::file(at))
            .await
            .map_err(|e| Error::internal(format!("file lookup stopped: {e}")))?
    }
}

fn info(e: &ExperimentRow, favorite: bool) -> ExperimentInfo {
    ExperimentInfo {
        proposal_id: e.proposal_id.clone(),
        subject: e.subject.clone(),
        body: e.body.clone(),
        beam_line: e.beam_line.clone(),
        favorite,
        synced: time::rfc3339(e.synced_at),
        sessions: None,
        members: None,
    }
}
