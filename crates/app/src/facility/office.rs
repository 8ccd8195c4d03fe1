//! The user office's REST contract, from Gantry's side: a user's experiments (a
//! DRF-style page, followed to the end), the facility user behind an Umbrella hash, and
//! whether a user may launch resources. Every answer is checked field by field; a record
//! that does not read is skipped with its reason logged, never half-written.

use crate::config::FacilityConfig;
use gantry_domain::{Error, ErrorKind, Result, time::now_unix};
use gantry_store::{ExperimentRecord, ExperimentRow, ExperimentSessionRow};
use serde_json::Value;
use std::time::Duration;

/// The largest page of experiments read (a bigger answer is refused).
const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Clone)]
pub struct Office {
    cfg: FacilityConfig,
    http: reqwest::Client,
}

/// What one sync read: the experiments, and the records skipped (with why).
#[derive(Debug, Default)]
pub struct Fetched {
    pub experiments: Vec<ExperimentRecord>,
    pub skipped: Vec<String>,
}

fn unavailable(m: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unavailable, m)
}

/// A short id (proposal, volume): letters, digits, `.`, `_`, `-`, up to 64.
pub fn is_safe_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s != "."
        && s != ".."
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
}

/// A directory relative to the datasets root: no absolute path, no `..`, no empty or
/// `.` component, no NUL or backslash, at most 1024 bytes.
pub fn is_safe_relative(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 1024
        && !p.starts_with('/')
        && !p.contains(['\0', '\\'])
        && p.trim_end_matches('/').split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// `scheme://host[:port]` of a URL, to keep `next` on the office's own server.
fn origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let host_end = rest.find('/').unwrap_or(rest.len());
    Some(&url[..scheme.len() + 3 + host_end])
}

fn text(v: &Value, k: &str, max: usize, required: bool) -> std::result::Result<String, String> {
    match v.get(k) {
        Some(Value::String(s)) if s.len() <= max => Ok(s.clone()),
        Some(Value::String(_)) => Err(format!("{k} is longer than {max} bytes")),
        None | Some(Value::Null) if !required => Ok(String::new()),
        None | Some(Value::Null) => Err(format!("{k} is missing")),
        Some(_) => Err(format!("{k} is not text")),
    }
}

fn number(v: &Value, k: &str) -> std::result::Result<Option<i64>, String> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| format!("{k} is not a whole number")),
        // Offices written in Python often send numbers as text.
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| format!("{k} is not a number")),
        Some(_) => Err(format!("{k} is not a number")),
    }
}

fn session_of(v: &Value) -> std::result::Result<ExperimentSessionRow, String> {
    let n = number(v, "session_number")?.ok_or("session_number is missing")?;
    if !(0..1_000_000).contains(&n) {
        return Err(format!("session_number {n} is out of range"));
    }
    let paths = match v.get("data_set_path") {
        Some(Value::Object(m)) => m,
        Some(Value::Null) | None => return Err(format!("session {n}: data_set_path is missing")),
        Some(_) => return Err(format!("session {n}: data_set_path is not an object of volumes")),
    };
    if paths.len() > 64 {
        return Err(format!("session {n}: more than 64 volumes"));
    }
    for (vol, p) in paths {
        let Some(p) = p.as_str() else { return Err(format!("session {n}: volume {vol:?} is not a path")) };
        if !is_safe_id(vol) {
            return Err(format!("session {n}: volume name {vol:?} is not letters, digits, '.', '_', '-'"));
        }
        if !is_safe_relative(p) {
            return Err(format!("session {n}: volume {vol:?} path {p:?} is not relative to the datasets root"));
        }
    }
    Ok(ExperimentSessionRow {
        session_number: n,
        subject: text(v, "subject", 500, false)?,
        body: text(v, "body", 20_000, false)?,
        start_date: text(v, "start_date", 64, false)?,
        end_date: text(v, "end_date", 64, false)?,
        data_set_path: Value::Object(paths.clone()).to_string(),
    })
}

/// One experiment of the office's answer, checked.
pub fn record_of(v: &Value, now: i64) -> std::result::Result<ExperimentRecord, String> {
    let id = match v.get("proposal_id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("proposal_id is missing or not text".into()),
    };
    if !is_safe_id(&id) {
        return Err(format!("proposal_id {id:?} is not letters, digits, '.', '_', '-' (up to 64)"));
    }
    let sessions = match v.get("sessions") {
        Some(Value::Array(a)) if a.len() <= 1000 => a,
        Some(Value::Array(_)) => return Err(format!("{id}: more than 1000 sessions")),
        None | Some(Value::Null) => &vec![],
        Some(_) => return Err(format!("{id}: sessions is not a list")),
    };
    let mut out = vec![];
    for s in sessions {
        let s = session_of(s).map_err(|e| format!("{id}: {e}"))?;
        if out.iter().any(|o: &ExperimentSessionRow| o.session_number == s.session_number) {
            return Err(format!("{id}: session {} is listed twice", s.session_number));
        }
        out.push(s);
    }
    let err = |e: String| format!("{id}: {e}");
    Ok(ExperimentRecord {
        experiment: ExperimentRow {
            subject: text(v, "subject", 500, true).map_err(err)?,
            body: text(v, "body", 20_000, false).map_err(err)?,
            beam_line: text(v, "beam_line", 100, false).map_err(err)?,
            uid: number(v, "uid").map_err(err)?,
            gid: number(v, "gid").map_err(err)?,
            synced_at: now,
            proposal_id: id,
        },
        sessions: out,
    })
}

impl Office {
    pub fn new(cfg: FacilityConfig, http: reqwest::Client) -> Office {
        Office { cfg, http }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.cfg.timeout_secs)
    }

    fn name(&self) -> &str {
        &self.cfg.name
    }

    /// A request to the office with its Basic credentials and deadline.
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>)> {
        let r = req
            .basic_auth(&self.cfg.username, self.cfg.password.as_deref())
            .timeout(self.timeout())
            .send()
            .await
            .map_err(|e| unavailable(format!("cannot reach the user office of {}: {e}", self.name())))?;
        let status = r.status().as_u16();
        if r.content_length().is_some_and(|n| n > MAX_PAGE_BYTES as u64) {
            return Err(unavailable(format!("the user office of {} sent more than 16 MiB at once", self.name())));
        }
        let mut body = vec![];
        let mut r = r;
        while let Some(chunk) = r
            .chunk()
            .await
            .map_err(|e| unavailable(format!("the user office of {} stopped answering: {e}", self.name())))?
        {
            if body.len() + chunk.len() > MAX_PAGE_BYTES {
                return Err(unavailable(format!("the user office of {} sent more than 16 MiB at once", self.name())));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    fn json(&self, body: &[u8]) -> Result<Value> {
        serde_json::from_slice(body).map_err(|e| {
            unavailable(format!("the user office of {} answered something that is not JSON: {e}", self.name()))
        })
    }

    /// Every experiment of `username`, following `next` to the end (at most `max_pages`,
    /// and only on the office's own server).
    pub async fn experiments(&self, username: &str) -> Result<Fetched> {
        let base = self.cfg.experiments_url.trim_end_matches('/');
        let first = format!("{base}/{}/?page_size=100", gantry_domain::url::escape_component(username));
        let home = origin(base).unwrap_or(base).to_string();
        let now = now_unix();
        let mut next = Some(first);
        let mut fetched = Fetched::default();
        let mut seen = std::collections::HashSet::new();
        let mut pages = 0u32;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > self.cfg.max_pages {
                return Err(unavailable(format!(
                    "the user office of {} kept sending pages (more than {}); nothing was changed",
                    self.name(),
                    self.cfg.max_pages
                )));
            }
            let (status, body) = self.call(self.http.get(&url)).await?;
            match status {
                200 => {}
                404 if pages == 1 => return Ok(fetched), // the office knows no such user: no experiments
                s => {
                    return Err(unavailable(format!(
                        "the user office of {} answered {s}; try again later",
                        self.name()
                    )));
                }
            }
            let page = self.json(&body)?;
            let Some(results) = page.get("results").and_then(Value::as_array) else {
                return Err(unavailable(format!("the user office of {} sent a page without results", self.name())));
            };
            for v in results {
                match record_of(v, now) {
                    Ok(r) if seen.insert(r.experiment.proposal_id.clone()) => fetched.experiments.push(r),
                    Ok(r) => fetched.skipped.push(format!("{}: listed twice", r.experiment.proposal_id)),
                    Err(why) => {
                        tracing::warn!(user = username, "skipped an experiment from the user office: {why}");
                        fetched.skipped.push(why);
                    }
                }
            }
            next = match page.get("next") {
                None | Some(Value::Null) => None,
                Some(Value::String(n)) if origin(n) == Some(home.as_str()) => Some(n.clone()),
                Some(Value::String(n)) => {
                    return Err(unavailable(format!(
                        "the user office of {} sent a next page on another server ({n}); nothing was changed",
                        self.name()
                    )));
                }
                Some(_) => {
                    return Err(unavailable(format!(
                        "the user office of {} sent a next that is not a URL",
                        self.name()
                    )));
                }
            };
        }
        Ok(fetched)
    }

    /// The facility username behind an Umbrella EAA hash (None: the office knows none).
    pub async fn login_of_hash(&self, hash: &str) -> Result<Option<String>> {
        let url = self
            .cfg
            .hash_url
            .as_deref()
            .ok_or_else(|| Error::new(ErrorKind::Unsupported, "no hash_url is configured"))?;
        let (status, body) = self.call(self.http.post(url).form(&[("eaa_hash", hash)])).await?;
        match status {
            200 => {}
            404 => return Ok(None),
            s => return Err(unavailable(format!("the user office of {} answered {s}; try again later", self.name()))),
        }
        match self.json(&body)?.get("login").and_then(Value::as_str).map(str::trim) {
            Some(l) if !l.is_empty() && l.len() <= 128 && !l.contains(['/', '\0']) => Ok(Some(l.to_string())),
            _ => Err(unavailable(format!("the user office of {} named no valid login for the hash", self.name()))),
        }
    }

    /// Whether `login` may launch facility resources.
    pub async fn is_authorized(&self, login: &str) -> Result<bool> {
        if self.cfg.default_authorization {
            return Ok(true);
        }
        let Some(url) = self.cfg.is_authorized_url.as_deref() else { return Ok(false) };
        let (status, body) = self.call(self.http.post(url).form(&[("login", login)])).await?;
        if status != 200 {
            return Err(unavailable(format!("the user office of {} answered {status}; try again later", self.name())));
        }
        match self.json(&body)?.get("result") {
            Some(Value::Bool(b)) => Ok(*b),
            _ => Err(unavailable(format!(
                "the user office of {} did not say whether {login} is authorized",
                self.name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_ids() {
        for ok in ["2026/x/raw", "a", "a/b/", "a.b/c_d-e"] {
            assert!(is_safe_relative(ok), "{ok}");
        }
        for bad in ["", "/abs", "../up", "a/../b", "a//b", "./a", "a\\b", "a\0"] {
            assert!(!is_safe_relative(bad), "{bad:?}");
        }
        assert!(is_safe_id("20260001") && !is_safe_id("..") && !is_safe_id("a/b") && !is_safe_id(""));
        assert_eq!(origin("https://uo.example:8443/api/x/?page=2"), Some("https://uo.example:8443"));
    }

    #[test]
    fn records_are_checked_field_by_field() {
        let good = json!({"proposal_id": 42, "subject": "s", "uid": "1001", "gid": null,
            "sessions": [{"session_number": 1, "start_date": "2026-01-01", "data_set_path": {"raw": "42/raw"}}]});
        let r = record_of(&good, 7).unwrap();
        assert_eq!((r.experiment.proposal_id.as_str(), r.experiment.uid, r.sessions.len()), ("42", Some(1001), 1));
        for (bad, why) in [
            (json!({"subject": "s"}), "proposal_id"),
            (json!({"proposal_id": "a/b", "subject": "s"}), "proposal_id"),
            (json!({"proposal_id": "p", "subject": 5}), "subject is not text"),
            (json!({"proposal_id": "p", "subject": "s", "uid": "x"}), "uid"),
            (json!({"proposal_id": "p", "subject": "s", "sessions": {}}), "not a list"),
            (
                json!({"proposal_id": "p", "subject": "s", "sessions": [{"session_number": 1, "data_set_path": {"raw": "../etc"}}]}),
                "not relative",
            ),
            (
                json!({"proposal_id": "p", "subject": "s", "sessions": [{"session_number": 1, "data_set_path": {"raw": "/etc"}}]}),
                "not relative",
            ),
            (
                json!({"proposal_id": "p", "subject": "s", "sessions": [{"session_number": 1, "data_set_path": "x"}]}),
                "not an object",
            ),
            (
                json!({"proposal_id": "p", "subject": "s", "sessions": [{"session_number": 1, "data_set_path": {"a": "x"}}, {"session_number": 1, "data_set_path": {"a": "y"}}]}),
                "twice",
            ),
        ] {
            let e = record_of(&bad, 7).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
