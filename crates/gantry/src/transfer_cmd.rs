//! CLI commands for Globus: connecting the account, finding endpoints, sending images
//! and following the transfers.

use crate::cli_cmd::client;
use gantry_client::human_size;
use reqwest::Method;
use serde_json::{Value, json};

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub async fn globus_connect(scopes: &[String]) -> anyhow::Result<()> {
    let c = client().await?;
    let st = c.get_json("/api/v1/globus", "check the Globus connection").await?;
    let mut url = st["connect_url"].as_str().unwrap_or_default().to_string();
    if !scopes.is_empty() {
        let q: Vec<String> = scopes.iter().map(|s| format!("scope={}", enc(s))).collect();
        url = format!("{url}?{}", q.join("&"));
    }
    eprintln!("Open\n\n    {url}\n\nin a browser where you are signed in to Gantry, and allow access. Waiting…");
    let before = st["connected_at"].clone();
    for _ in 0..600 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let st = c.get_json("/api/v1/globus", "check the Globus connection").await?;
        if st["connected"] == true && st["connected_at"] != before {
            println!("connected to Globus as {}", st["username"].as_str().unwrap_or("?"));
            return Ok(());
        }
    }
    anyhow::bail!("Globus was not connected within 10 minutes; run gantry globus connect again")
}

pub async fn globus_status(json_out: bool) -> anyhow::Result<()> {
    let c = client().await?;
    let st = c.get_json("/api/v1/globus", "check the Globus connection").await?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&st)?);
    } else if st["connected"] != true {
        println!("not connected; run gantry globus connect");
    } else {
        let health = if st["healthy"] == true { "working" } else { "needs reconnecting (gantry globus connect)" };
        println!(
            "connected as {} since {}: {health}",
            st["username"].as_str().unwrap_or("?"),
            st["connected_at"].as_str().unwrap_or("?")
        );
        if let Some(e) = st["last_error"].as_str() {
            println!("last error: {e}");
        }
    }
    Ok(())
}

pub async fn globus_disconnect() -> anyhow::Result<()> {
    let c = client().await?;
    c.send(c.req(Method::DELETE, "/api/v1/globus"), "disconnect Globus").await?;
    println!("disconnected from Globus; the tokens were revoked");
    Ok(())
}

pub async fn endpoints_search(text: &str, scope: &str, json_out: bool) -> anyhow::Result<()> {
    let c = client().await?;
    let v = c
        .get_json(&format!("/api/v1/globus/endpoints?q={}&scope={}", enc(text), enc(scope)), "search endpoints")
        .await?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&v["endpoints"])?);
        return Ok(());
    }
    for e in v["endpoints"].as_array().into_iter().flatten() {
        println!(
            "{}  {}  ({})",
            e["id"].as_str().unwrap_or(""),
            e["display_name"].as_str().unwrap_or(""),
            e["owner"].as_str().unwrap_or("")
        );
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

pub async fn endpoints_ls(target: &str) -> anyhow::Result<()> {
    let c = client().await?;
    let (ep, path) = split_target(target);
    let v = c
        .get_json(&format!("/api/v1/globus/endpoints/{}/ls?path={}", enc(&ep), enc(&path)), "list the directory")
        .await?;
    for e in v["entries"].as_array().into_iter().flatten() {
        let dir = e["type"] == "dir";
        let size = if dir { "-".to_string() } else { human_size(e["size"].as_u64().unwrap_or(0)) };
        println!("{:>10}  {}{}", size, e["name"].as_str().unwrap_or(""), if dir { "/" } else { "" });
    }
    Ok(())
}

fn describe(t: &Value) -> String {
    format!(
        "{}  {}  {} -> {}:{}  {} of {}{}",
        t["id"].as_str().unwrap_or(""),
        t["status"].as_str().unwrap_or(""),
        t["ref"].as_str().unwrap_or(""),
        t["endpoint_name"].as_str().or(t["endpoint_id"].as_str()).unwrap_or(""),
        t["path"].as_str().unwrap_or(""),
        human_size(t["bytes_transferred"].as_u64().unwrap_or(0)),
        human_size(t["bytes_total"].as_u64().unwrap_or(0)),
        t["error"].as_str().map(|e| format!("  ({e})")).unwrap_or_default()
    )
}

pub async fn transfer(reference: &str, target: &str, label: Option<&str>, wait: bool) -> anyhow::Result<()> {
    let c = client().await?;
    let (ep, path) = split_target(target);
    let body = json!({"ref": reference, "endpoint_id": ep, "path": path, "label": label});
    let r = c.send(c.req(Method::POST, "/api/v1/transfers").json(&body), "start the transfer").await?;
    let t: Value = r.json().await?;
    let id = t["id"].as_str().unwrap_or_default().to_string();
    println!("transfer {id} started (Globus task {})", t["task_id"].as_str().unwrap_or("pending"));
    if !wait {
        return Ok(());
    }
    let bar = c.bar(t["bytes_total"].as_u64().unwrap_or(0), reference);
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let t = c.get_json(&format!("/api/v1/transfers/{id}"), "follow the transfer").await?;
        bar.set_position(t["bytes_transferred"].as_u64().unwrap_or(0));
        if t["cleaned_up"] == true || matches!(t["status"].as_str(), Some("SUCCEEDED" | "FAILED")) {
            bar.finish_and_clear();
            println!("{}", describe(&t));
            if t["status"] != "SUCCEEDED" {
                anyhow::bail!("the transfer did not succeed");
            }
            return Ok(());
        }
    }
}

pub async fn tasks(json_out: bool) -> anyhow::Result<()> {
    let c = client().await?;
    let v = c.get_json("/api/v1/transfers", "list transfers").await?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&v["transfers"])?);
        return Ok(());
    }
    for t in v["transfers"].as_array().into_iter().flatten() {
        println!("{}", describe(t));
    }
    Ok(())
}

pub async fn task_show(id: &str) -> anyhow::Result<()> {
    let c = client().await?;
    let t = c.get_json(&format!("/api/v1/transfers/{}", enc(id)), "show the transfer").await?;
    println!("{}", serde_json::to_string_pretty(&t)?);
    Ok(())
}

pub async fn task_cancel(id: &str) -> anyhow::Result<()> {
    let c = client().await?;
    let r =
        c.send(c.req(Method::POST, &format!("/api/v1/transfers/{}/cancel", enc(id))), "cancel the transfer").await?;
    let t: Value = r.json().await?;
    println!("{}", describe(&t));
    Ok(())
}
