//! `gantry admin experiments import FILE.csv`: experiments, sessions and members from a
//! file, for facilities whose user office cannot be asked (or to add members by hand).
//! One line per (proposal, member, session, path), comma-separated, no quoting; a first
//! line `proposal,member,session,path` is a header; `#` starts a comment. The path is
//! the session's data relative to the datasets root (its volume is called `data`).
//! Imported members stay until imported again; syncs never remove them.

use super::office::{is_safe_id, is_safe_relative};
use gantry_domain::{Error, Result, time::now_unix};
use gantry_store::{ExperimentRecord, ExperimentRow, ExperimentSessionRow};
use std::collections::BTreeMap;

/// The experiments and members a file describes, every line checked (the first bad line
/// stops the import, which then changes nothing).
pub fn parse(text: &str) -> Result<Vec<(ExperimentRecord, Vec<String>)>> {
    let mut by_id: BTreeMap<String, (BTreeMap<i64, String>, Vec<String>)> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (n == 0 && line.starts_with("proposal")) {
            continue;
        }
        let bad = |why: &str| Error::invalid(format!("line {}: {why}: {line:?}", n + 1));
        if line.contains('"') {
            return Err(bad("quoted fields are not read; write plain comma-separated values"));
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let [id, member, session, path] = f.as_slice() else {
            return Err(bad("expected 4 fields: proposal,member,session,path"));
        };
        if !is_safe_id(id) {
            return Err(bad("the proposal is not letters, digits, '.', '_', '-'"));
        }
        if member.is_empty() || member.len() > 128 || member.contains(['/', '\0']) {
            return Err(bad("the member is not a facility username"));
        }
        let s: i64 = session
            .parse()
            .ok()
            .filter(|s| (0..1_000_000).contains(s))
            .ok_or_else(|| bad("the session is not a number"))?;
        if !is_safe_relative(path) {
            return Err(bad("the path is not relative to the datasets root (no '..', no leading '/')"));
        }
        let e = by_id.entry(id.to_string()).or_default();
        if let Some(p) = e.0.insert(s, path.to_string()).filter(|p| p != path) {
            return Err(bad(&format!("session {s} of {id} was given the path {p:?} already")));
        }
        if !e.1.iter().any(|m| m == member) {
            e.1.push(member.to_string());
        }
    }
    let now = now_unix();
    Ok(by_id
        .into_iter()
        .map(|(id, (sessions, members))| {
            let rec = ExperimentRecord {
                experiment: ExperimentRow {
                    subject: format!("Proposal {id}"),
                    proposal_id: id,
                    body: String::new(),
                    beam_line: String::new(),
                    uid: None,
                    gid: None,
                    synced_at: now,
                },
                sessions: sessions
                    .into_iter()
                    .map(|(n, p)| ExperimentSessionRow {
                        session_number: n,
                        subject: format!("Session {n}"),
                        body: String::new(),
                        start_date: String::new(),
                        end_date: String::new(),
                        data_set_path: serde_json::json!({ "data": p }).to_string(),
                    })
                    .collect(),
            };
            (rec, members)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_are_checked() {
        let ok = "proposal,member,session,path\n# a comment\nP1,alice,1,2026/P1/s1\nP1,bob,1,2026/P1/s1\nP1,alice,2,2026/P1/s2\nP2,bob,1,x\n";
        let v = super::parse(ok).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].0.sessions.len(), v[0].1.clone()), (2, vec!["alice".to_string(), "bob".to_string()]));
        for (bad, why) in [
            ("P1,alice,1", "4 fields"),
            ("../P,alice,1,x", "proposal"),
            ("P,alice,one,x", "session"),
            ("P,alice,1,../etc", "path"),
            ("P,alice,1,/etc", "path"),
            ("P,\"alice\",1,x", "quoted"),
            ("P,alice,1,x\nP,bob,1,y", "already"),
        ] {
            let e = super::parse(bad).unwrap_err();
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
    }
}
