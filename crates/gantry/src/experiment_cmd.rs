//! `gantry experiments`, `gantry experiment show|pull`: the facility's experiments from
//! the command line.

use crate::cli_cmd::client;
use gantry_api_types::{ExperimentInfo, ExperimentPage};
use gantry_client::human_size;
use std::path::Path;

pub async fn list(search: &str, favorite: bool, json: bool) -> anyhow::Result<()> {
    let c = client().await?;
    let mut all = vec![];
    let mut page = 1;
    let first = loop {
        let q = format!(
            "/api/v1/experiments?page_size=100&page={page}&favorite={favorite}&search={}",
            gantry_domain::url::escape(search)
        );
        let p: ExperimentPage = c.get(&q, "list experiments").await?;
        let done = p.results.is_empty() || (page * p.page_size) >= p.count || page >= 100;
        all.extend(p.results.iter().cloned());
        if done {
            break p;
        }
        page += 1;
    };
    if json {
        crate::out!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    if first.stale {
        eprintln!(
            "note: this list may be out of date ({}); it is what the user office said last",
            first.sync_error.as_deref().unwrap_or("not synced for a while")
        );
    }
    if first.facility_username.is_none() && all.is_empty() {
        eprintln!(
            "your account is not linked to a facility user: sign in once with the facility's user office or Umbrella"
        );
    }
    crate::out!("{:<16} {:<14} {:<3} TITLE", "PROPOSAL", "BEAM LINE", "FAV");
    for e in &all {
        crate::out!("{:<16} {:<14} {:<3} {}", e.proposal_id, e.beam_line, if e.favorite { "*" } else { "" }, e.subject);
    }
    Ok(())
}

pub async fn show(id: &str, json: bool) -> anyhow::Result<()> {
    let c = client().await?;
    let e: ExperimentInfo =
        c.get(&format!("/api/v1/experiments/{}", gantry_domain::url::escape(id)), &format!("show {id}")).await?;
    if json {
        crate::out!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(());
    }
    crate::out!("{}  {}", e.proposal_id, e.subject);
    if !e.beam_line.is_empty() {
        crate::out!("beam line: {}", e.beam_line);
    }
    if !e.body.is_empty() {
        crate::out!("{}", e.body);
    }
    crate::out!("{:<8} {:<22} {:<22} DATA", "SESSION", "FROM", "TO");
    for s in e.sessions.iter().flatten() {
        crate::out!("{:<8} {:<22} {:<22} {}", s.session_number, s.start_date, s.end_date, s.volumes.join(", "));
    }
    Ok(())
}

pub async fn pull(id: &str, session: i64, path: Option<&str>, out: Option<&Path>) -> anyhow::Result<()> {
    let c = client().await?;
    let default = format!("{id}_s{session}");
    let out = out.unwrap_or(Path::new(&default));
    let (files, bytes) = gantry_client::experiments::pull_session(&c, id, session, path.unwrap_or(""), out).await?;
    crate::out!("pulled {id} session {session} into {} ({files} files fetched, {})", out.display(), human_size(bytes));
    Ok(())
}
