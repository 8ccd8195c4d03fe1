//! Globus Transfer v0.10: endpoints, files, access rules, tasks.

use crate::{Error, Globus, Result, urlencode};
use reqwest::Method;
use serde_json::{Value, json};

impl Globus {
    /// Endpoint search: `filter_scope` is one of Globus's scopes (`my-endpoints`,
    /// `shared-with-me`, `recently-used`, `all`, …).
    pub async fn endpoint_search(
        &self,
        token: &str,
        text: Option<&str>,
        scope: Option<&str>,
        limit: u32,
    ) -> Result<Value> {
        let mut q = vec![("limit".to_string(), limit.to_string())];
        if let Some(t) = text.filter(|t| !t.is_empty()) {
            q.push(("filter_fulltext".into(), t.into()));
        }
        if let Some(s) = scope {
            q.push(("filter_scope".into(), s.into()));
        }
        let qs = q.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
        self.transfer(Method::GET, &format!("endpoint_search?{qs}"), token, None).await
    }

    pub async fn endpoint(&self, token: &str, id: &str) -> Result<Value> {
        self.transfer(Method::GET, &format!("endpoint/{}", urlencode(id)), token, None).await
    }

    pub async fn ls(&self, token: &str, endpoint: &str, path: &str) -> Result<Value> {
        self.transfer(
            Method::GET,
            &format!("operation/endpoint/{}/ls?path={}", urlencode(endpoint), urlencode(path)),
            token,
            None,
        )
        .await
    }

    pub async fn mkdir(&self, token: &str, endpoint: &str, path: &str) -> Result<Value> {
        let body = json!({"DATA_TYPE": "mkdir", "path": path});
        self.transfer(Method::POST, &format!("operation/endpoint/{}/mkdir", urlencode(endpoint)), token, Some(&body))
            .await
    }

    pub async fn submission_id(&self, token: &str) -> Result<String> {
        let v = self.transfer(Method::GET, "submission_id", token, None).await?;
        v["value"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::Unreachable("no submission id in the answer".into()))
    }

    /// Submits a transfer document (which must carry its `submission_id`); a resubmission
    /// of the same id answers with the task that id created.
    pub async fn submit_transfer(&self, token: &str, doc: &Value) -> Result<String> {
        let v = self.transfer(Method::POST, "transfer", token, Some(doc)).await?;
        v["task_id"].as_str().map(str::to_string).ok_or_else(|| Error::Unreachable("no task id in the answer".into()))
    }

    pub async fn task(&self, token: &str, id: &str) -> Result<Value> {
        self.transfer(Method::GET, &format!("task/{}", urlencode(id)), token, None).await
    }

    pub async fn task_events(&self, token: &str, id: &str) -> Result<Value> {
        self.transfer(Method::GET, &format!("task/{}/event_list", urlencode(id)), token, None).await
    }

    pub async fn cancel_task(&self, token: &str, id: &str) -> Result<Value> {
        self.transfer(Method::POST, &format!("task/{}/cancel", urlencode(id)), token, None).await
    }

    /// Access rules of an endpoint.
    pub async fn rules(&self, token: &str, endpoint: &str) -> Result<Vec<Value>> {
        let v =
            self.transfer(Method::GET, &format!("endpoint/{}/access_list", urlencode(endpoint)), token, None).await?;
        Ok(v["DATA"].as_array().cloned().unwrap_or_default())
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
            Ok(v) => v["access_id"]
                .as_str()
                .or(v["id"].as_str())
                .map(str::to_string)
                .or_else(|| v["access_id"].as_i64().map(|n| n.to_string()))
                .ok_or_else(|| Error::Unreachable("no rule id in the answer".into())),
            Err(e) if e.status() == Some(409) => {
                let rules = self.rules(token, endpoint).await?;
                rules
                    .iter()
                    .find(|r| r["principal"] == identity && r["path"] == path)
                    .and_then(|r| {
                        r["id"].as_str().map(str::to_string).or_else(|| r["id"].as_i64().map(|n| n.to_string()))
                    })
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
