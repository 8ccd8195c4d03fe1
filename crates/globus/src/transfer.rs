//! Globus Transfer v0.10: endpoints, files, access rules, tasks.

use crate::{Error, Globus, Result, urlencode};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

// ---------- the documents Transfer answers with ----------

/// An endpoint or collection. The fields Gantry reads are typed; the rest of the
/// document is kept as Globus sent it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub owner_string: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub entity_type: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A place on an endpoint the user keeps (Transfer's bookmarks, as the Globus web app
/// shows them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bookmark {
    pub id: String,
    pub name: String,
    pub endpoint_id: String,
    pub path: String,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    /// `file`, `dir` or `link`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub size: Option<i64>,
    #[serde(default)]
    pub last_modified: Option<String>,
}

/// A directory listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileList {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(rename = "DATA", default)]
    pub entries: Vec<FileEntry>,
}

/// Where a task stands, as Transfer says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TaskState {
    Active,
    Inactive,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FatalError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// The parts of a task document Gantry follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub task_id: String,
    pub status: TaskState,
    #[serde(default)]
    pub bytes_transferred: Option<i64>,
    #[serde(default)]
    pub effective_bytes_per_second: Option<i64>,
    #[serde(default)]
    pub faults: Option<i64>,
    #[serde(default)]
    pub nice_status: Option<String>,
    #[serde(default)]
    pub fatal_error: Option<FatalError>,
}

/// One event of a task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub code: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, deserialize_with = "text_or_null")]
    pub details: String,
    #[serde(default)]
    pub is_error: bool,
    /// As Globus writes it, e.g. `2026-01-26T19:18:20+00:00`.
    #[serde(default)]
    pub time: String,
}

/// An access rule of an endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Globus Connect Server ids are strings; older endpoints used numbers.
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub principal_type: Option<String>,
    #[serde(default)]
    pub principal: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub permissions: Option<String>,
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(rename = "DATA", default = "Vec::new")]
    data: Vec<T>,
}

fn text_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Option::<String>::deserialize(d).map(Option::unwrap_or_default)
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("an id is a string or a number, not {other}"))),
    }
}

fn read<T: DeserializeOwned>(v: Value, what: &str) -> Result<T> {
    serde_json::from_value(v).map_err(|e| Error::Unreachable(format!("unexpected {what} from Globus Transfer: {e}")))
}

fn text(v: &Value, key: &str, what: &str) -> Result<String> {
    match &v[key] {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(Error::Unreachable(format!("no {what} in the answer"))),
    }
}

impl Globus {
    /// Endpoint search: `filter_scope` is one of Globus's scopes (`my-endpoints`,
    /// `shared-with-me`, `recently-used`, `all`, …).
    pub async fn endpoint_search(
        &self,
        token: &str,
        text: Option<&str>,
        scope: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Endpoint>> {
        let mut q = vec![("limit".to_string(), limit.to_string())];
        if let Some(t) = text.filter(|t| !t.is_empty()) {
            q.push(("filter_fulltext".into(), t.into()));
        }
        if let Some(s) = scope {
            q.push(("filter_scope".into(), s.into()));
        }
        let qs = q.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
        let v = self.transfer(Method::GET, &format!("endpoint_search?{qs}"), token, None).await?;
        Ok(read::<Page<Endpoint>>(v, "endpoint list")?.data)
    }

    pub async fn endpoint(&self, token: &str, id: &str) -> Result<Endpoint> {
        read(self.transfer(Method::GET, &format!("endpoint/{}", urlencode(id)), token, None).await?, "endpoint")
    }

    /// `GET bookmark_list`: the user's bookmarks.
    pub async fn bookmarks(&self, token: &str) -> Result<Vec<Bookmark>> {
        let v = self.transfer(Method::GET, "bookmark_list", token, None).await?;
        Ok(read::<Page<Bookmark>>(v, "bookmark list")?.data)
    }

    /// `POST bookmark`: keeps `path` on `endpoint` under `name`.
    pub async fn create_bookmark(&self, token: &str, name: &str, endpoint: &str, path: &str) -> Result<Bookmark> {
        let body = json!({"DATA_TYPE": "bookmark", "name": name, "endpoint_id": endpoint, "path": path});
        read(self.transfer(Method::POST, "bookmark", token, Some(&body)).await?, "bookmark")
    }

    pub async fn ls(&self, token: &str, endpoint: &str, path: &str) -> Result<FileList> {
        let url = format!("operation/endpoint/{}/ls?path={}", urlencode(endpoint), urlencode(path));
        read(self.transfer(Method::GET, &url, token, None).await?, "directory listing")
    }

    pub async fn mkdir(&self, token: &str, endpoint: &str, path: &str) -> Result<()> {
        let body = json!({"DATA_TYPE": "mkdir", "path": path});
        let url = format!("operation/endpoint/{}/mkdir", urlencode(endpoint));
        self.transfer(Method::POST, &url, token, Some(&body)).await?;
        Ok(())
    }

    pub async fn submission_id(&self, token: &str) -> Result<String> {
        text(&self.transfer(Method::GET, "submission_id", token, None).await?, "value", "submission id")
    }

    /// Submits a transfer document (which must carry its `submission_id`); a resubmission
    /// of the same id answers with the task that id created.
    pub async fn submit_transfer(&self, token: &str, doc: &Value) -> Result<String> {
        text(&self.transfer(Method::POST, "transfer", token, Some(doc)).await?, "task_id", "task id")
    }

    pub async fn task(&self, token: &str, id: &str) -> Result<Task> {
        read(self.transfer(Method::GET, &format!("task/{}", urlencode(id)), token, None).await?, "task")
    }

    pub async fn task_events(&self, token: &str, id: &str) -> Result<Vec<Event>> {
        let v = self.transfer(Method::GET, &format!("task/{}/event_list", urlencode(id)), token, None).await?;
        Ok(read::<Page<Event>>(v, "event list")?.data)
    }

    /// Cancels a task; returns Transfer's code (`Canceled`, or `TaskComplete` for a task
    /// that had ended).
    pub async fn cancel_task(&self, token: &str, id: &str) -> Result<String> {
        text(
            &self.transfer(Method::POST, &format!("task/{}/cancel", urlencode(id)), token, None).await?,
            "code",
            "code",
        )
    }

    /// Access rules of an endpoint.
    pub async fn rules(&self, token: &str, endpoint: &str) -> Result<Vec<Rule>> {
        let v =
            self.transfer(Method::GET, &format!("endpoint/{}/access_list", urlencode(endpoint)), token, None).await?;
        Ok(read::<Page<Rule>>(v, "access list")?.data)
    }

    /// Grants `permissions` on `path` to an identity; returns the rule id (also when an
    /// identical rule existed already, e.g. from a retried call).
    pub async fn add_identity_rule(
        &self,
        token: &str,
        endpoint: &str,
        identity: &str,
        path: &str,
        permissions: &str,
    ) -> Result<String> {
        let body = json!({"DATA_TYPE": "access", "principal_type": "identity", "principal": identity,
            "path": path, "permissions": permissions});
        let url = format!("endpoint/{}/access", urlencode(endpoint));
        match self.transfer(Method::POST, &url, token, Some(&body)).await {
            Ok(v) => text(&v, "access_id", "rule id").or_else(|_| text(&v, "id", "rule id")),
            Err(e) if e.status() == Some(409) => {
                let rules = self.rules(token, endpoint).await?;
                rules
                    .into_iter()
                    .find(|r| r.principal.as_deref() == Some(identity) && r.path.as_deref() == Some(path))
                    .map(|r| r.id)
                    .ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Removes a rule; one that is gone already counts as removed.
    pub async fn delete_rule(&self, token: &str, endpoint: &str, rule: &str) -> Result<()> {
        let url = format!("endpoint/{}/access/{}", urlencode(endpoint), urlencode(rule));
        match self.transfer(Method::DELETE, &url, token, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}
