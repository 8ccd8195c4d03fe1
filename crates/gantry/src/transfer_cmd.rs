//! CLI commands for Globus: connecting the account, finding endpoints, sending images
//! and following the transfers.

use crate::cli_cmd::client;
use gantry_api_types::{EndpointList, GlobusStatus, Listing, NewTransfer, TransferInfo, TransferList};
use gantry_client::human_size;
use gantry_domain::TransferStatus;
use reqwest::Method;

use gantry_domain::url::escape as enc;

async fn status(c: &gantry_client::Client) -> anyhow::Result<GlobusStatus> {
    c.get("/api/v1/globus", "check the Globus connection").await
}

pub async fn globus_connect(scopes: &[String]) -> anyhow::Result<()> {
    let c = client().await?;
    let st = status(&c).await?;
    let mut url = st.connect_url.clone();
    if !scopes.is_empty() {
        let q: Vec<String> = scopes.iter().map(|s| format!("scope={}", enc(s))).collect();
        url = format!("{url}?{}", q.join("&"));
    }
    eprintln!("Open\n\n    {url}\n\nin a browser where you are signed in to Gantry, and allow access. Waiting…");
    for _ in 0..600 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let now = status(&c).await?;
        if now.connected && now.connected_at != st.connected_at {
            crate::out!("connected to Globus as {}", now.username.as_deref().unwrap_or("?"));
            return Ok(());
        }
    }
    anyhow::bail!("Globus was not connected within 10 minutes; run gantry globus connect again")
}

pub async fn globus_status(json_out: bool) -> anyhow::Result<()> {
    let c = client().await?;
    let st = status(&c).await?;
    if json_out {
        crate::out!("{}", serde_json::to_string_pretty(&st)?);
    } else if !st.connected {
        crate::out!("not connected; run gantry globus connect");
    } else {
        let health = if st.healthy == Some(true) { "working" } else { "needs reconnecting (gantry globus connect)" };
        crate::out!(
            "connected as {} since {}: {health}",
            st.username.as_deref().unwrap_or("?"),
            st.connected_at.as_deref().unwrap_or("?")
        );
        if let Some(e) = &st.last_error {
            crate::out!("last error: {e}");
        }
    }
    Ok(())
}

pub async fn globus_disconnect() -> anyhow::Result<()> {
    let c = client().await?;
    c.send(c.req(Method::DELETE, "/api/v1/globus"), "disconnect Globus").await?;
    crate::out!("disconnected from Globus; the tokens were revoked");
    Ok(())
}

pub async fn endpoints_search(text: &str, scope: &str, json_out: bool) -> anyhow::Result<()> {
    let c = client().await?;
    let path = format!("/api/v1/globus/endpoints?q={}&scope={}", enc(text), enc(scope));
    let v: EndpointList = c.get(&path, "search endpoints").await?;
    if json_out {
        crate::out!("{}", serde_json::to_string_pretty(&v.endpoints)?);
        return Ok(());
    }
    for e in &v.endpoints {
        let name = e.display_name.as_deref().unwrap_or("");
        crate::out!("{}  {name}  ({})", e.id, e.owner.as_deref().unwrap_or(""));
    }
    Ok(())
}

/// `ENDPOINT[:PATH]` (the path defaults to the endpoint's home, `/~/`).
pub fn split_target(s: &str) -> (String, String) {
    match s.split_once(':') {
        Some((e, p)) if !p.is_empty() => (e.to_string(), p.to_string()),
        Some((e, _)) => (e.to_string(), "/~/".into()),
        None => (s.to_string(), "/~/".into()),
    }
}

pub async fn endpoints_ls(target: &str, json_out: bool) -> anyhow::Result<()> {
    let c = client().await?;
    let (ep, path) = split_target(target);
    let path = format!("/api/v1/globus/endpoints/{}/ls?path={}", enc(&ep), enc(&path));
    let v: Listing = c.get(&path, "list the directory").await?;
    if json_out {
        crate::out!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    for e in &v.entries {
        let dir = e.kind == "dir";
        let size = if dir { "-".to_string() } else { human_size(e.size.unwrap_or(0).max(0) as u64) };
        crate::out!("{:>10}  {}{}", size, e.name, if dir { "/" } else { "" });
    }
    Ok(())
}

fn describe(t: &TransferInfo) -> String {
    format!(
        "{}  {}  {} -> {}:{}  {} of {}{}",
        t.id,
        t.status.as_str(),
        t.what(),
        t.endpoint_name.as_deref().unwrap_or(&t.endpoint_id),
        t.path,
        human_size(t.bytes_transferred.max(0) as u64),
        human_size(t.bytes_total.max(0) as u64),
        t.error.as_ref().map(|e| format!("  ({e})")).unwrap_or_default()
    )
}

pub async fn transfer(body: &NewTransfer, wait: bool) -> anyhow::Result<()> {
    let c = client().await?;
    let r = c.send(c.req(Method::POST, "/api/v1/transfers").json(body), "start the transfer").await?;
    let t: TransferInfo = r.json().await?;
    crate::out!("transfer {} started (Globus task {})", t.id, t.task_id.as_deref().unwrap_or("pending"));
    if !wait {
        return Ok(());
    }
    let bar = c.bar(t.bytes_total.max(0) as u64, &t.what());
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let now: TransferInfo = c.get(&format!("/api/v1/transfers/{}", t.id), "follow the transfer").await?;
        bar.set_position(now.bytes_transferred.max(0) as u64);
        if now.cleaned_up || now.status.is_final() {
            bar.finish_and_clear();
            crate::out!("{}", describe(&now));
            if now.status != TransferStatus::Succeeded {
                anyhow::bail!("the transfer did not succeed");
            }
            return Ok(());
        }
    }
}

pub async fn tasks(json_out: bool) -> anyhow::Result<()> {
    let c = client().await?;
    let v: TransferList = c.get("/api/v1/transfers", "list transfers").await?;
    if json_out {
        crate::out!("{}", serde_json::to_string_pretty(&v.transfers)?);
        return Ok(());
    }
    for t in &v.transfers {
        crate::out!("{}", describe(t));
    }
    Ok(())
}

pub async fn task_show(id: &str) -> anyhow::Result<()> {
    let c = client().await?;
    let t: TransferInfo = c.get(&format!("/api/v1/transfers/{}", enc(id)), "show the transfer").await?;
    crate::out!("{}", serde_json::to_string_pretty(&t)?);
    Ok(())
}

pub async fn task_cancel(id: &str) -> anyhow::Result<()> {
    let c = client().await?;
    let r =
        c.send(c.req(Method::POST, &format!("/api/v1/transfers/{}/cancel", enc(id))), "cancel the transfer").await?;
    let t: TransferInfo = r.json().await?;
    crate::out!("{}", describe(&t));
    Ok(())
}
