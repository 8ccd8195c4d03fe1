//! Experiment data sent from the facility's Globus collection: for each folder sent, a
//! read rule for the user's identity while the task runs, removed however it ends.
//!
//! A rule is recorded in the transfer's row before and after it is asked for, so that a
//! crash in between leaves a rule that is still known as Gantry's (and removed). A rule the
//! user already had from the facility is left alone, and one that another unfinished
//! transfer of Gantry's also uses is kept until that one ends too.

use super::Transfers;
use crate::facility::data::DataItem;
use gantry_domain::{Error, ErrorKind, Result};
use gantry_store::TransferRow;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One folder or file sent from the facility's collection, with the rule that lets the
/// user's identity read it (kept in the transfer's row, as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The path on the collection (a folder's ends with '/').
    pub source: String,
    /// Where it arrives, relative to the destination folder.
    pub dest: String,
    pub recursive: bool,
    /// The folder the rule is on.
    pub rule_path: String,
    /// The identity the rule is for, once one is asked for (cleared once it is removed).
    #[serde(default)]
    pub principal: Option<String>,
    /// The rule Gantry gave (or shares with another transfer of its own).
    #[serde(default)]
    pub rule: Option<String>,
    /// The user already had a rule of the facility's here: Gantry neither gave nor removes it.
    #[serde(default)]
    pub standing: bool,
}

impl Item {
    pub fn of(d: &DataItem) -> Item {
        Item {
            source: d.source.clone(),
            dest: d.dest.clone(),
            recursive: d.is_dir,
            rule_path: d.rule_path.clone(),
            principal: None,
            rule: None,
            standing: false,
        }
    }
}

/// The items of a transfer's row.
pub fn items_of(tr: &TransferRow) -> Result<Vec<Item>> {
    serde_json::from_str(&tr.sources).map_err(|e| Error::internal(format!("transfer {}: its sources: {e}", tr.id)))
}

fn save(tr: &mut TransferRow, items: &[Item]) -> Result<()> {
    tr.sources = serde_json::to_string(items).map_err(|e| Error::internal(format!("sources: {e}")))?;
    Ok(())
}

/// The transfer items of a Globus submission: each item's source and where it arrives
/// under the transfer's folder.
pub fn transfer_items(tr: &TransferRow, items: &[Item]) -> Vec<Value> {
    let base = tr.path.trim_end_matches('/');
    items
        .iter()
        .map(|i| {
            json!({"DATA_TYPE": "transfer_item", "source_path": i.source,
                "destination_path": format!("{base}/{}", i.dest), "recursive": i.recursive})
        })
        .collect()
}

impl Transfers {
    /// Whether an unfinished transfer other than `except` holds rule `rule` on `collection`.
    async fn held_elsewhere(&self, collection: &str, rule: &str, except: &str) -> Result<bool> {
        for t in self.store.unclean_transfers().await? {
            if t.id == except || t.source_collection.as_deref() != Some(collection) {
                continue;
            }
            if items_of(&t)?.iter().any(|i| !i.standing && i.rule.as_deref() == Some(rule)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Gives `identity` a read rule on each item's folder (safe to repeat).
    pub(super) async fn give_data_rules(&self, tr: &mut TransferRow, collection: &str, identity: &str) -> Result<()> {
        let mut items = items_of(tr)?;
        if items.iter().all(|i| i.standing || i.rule.is_some()) {
            return Ok(());
        }
        let _one_at_a_time = self.rules_lock.lock().await;
        let manager = self.manager_token().await?;
        let unavailable =
            |e: gantry_globus::Error| Error::new(ErrorKind::Unavailable, format!("cannot give read access: {e}"));
        for n in 0..items.len() {
            if items[n].standing || items[n].rule.is_some() {
                continue;
            }
            let rules = self.globus.rules(&manager, collection).await.map_err(unavailable)?;
            let path = items[n].rule_path.clone();
            let existing = rules.into_iter().find(|r| {
                r.principal.as_deref() == Some(identity)
                    && r.path.as_deref() == Some(path.as_str())
                    && matches!(r.permissions.as_deref(), Some("r" | "rw"))
            });
            match existing {
                // Asked for before a crash, or given for another transfer of Gantry's.
                Some(r)
                    if items[n].principal.as_deref() == Some(identity)
                        || self.held_elsewhere(collection, &r.id, &tr.id).await? =>
                {
                    items[n].principal = Some(identity.to_string());
                    items[n].rule = Some(r.id);
                }
                Some(_) => items[n].standing = true,
                None => {
                    items[n].principal = Some(identity.to_string());
                    save(tr, &items)?;
                    self.store.update_transfer(tr).await?;
                    let rule = self
                        .globus
                        .add_identity_rule(&manager, collection, identity, &path, "r")
                        .await
                        .map_err(unavailable)?;
                    items[n].rule = Some(rule);
                }
            }
            save(tr, &items)?;
            self.store.update_transfer(tr).await?;
        }
        Ok(())
    }

    /// Removes the rules Gantry gave for a transfer's items, but not one that another
    /// unfinished transfer still uses.
    pub(super) async fn remove_data_rules(&self, tr: &mut TransferRow, collection: &str) -> Result<()> {
        let mut items = items_of(tr)?;
        if items.iter().all(|i| i.standing || i.principal.is_none()) {
            return Ok(());
        }
        let _one_at_a_time = self.rules_lock.lock().await;
        let manager = self.manager_token().await?;
        let unavailable =
            |e: gantry_globus::Error| Error::new(ErrorKind::Unavailable, format!("cannot remove the access rule: {e}"));
        for n in 0..items.len() {
            let Some(identity) = items[n].principal.clone().filter(|_| !items[n].standing) else { continue };
            // Asked for, but its id never recorded (a crash in between): find it.
            let rule = match items[n].rule.clone() {
                Some(r) => Some(r),
                None => self
                    .globus
                    .rules(&manager, collection)
                    .await
                    .map_err(unavailable)?
                    .into_iter()
                    .find(|r| {
                        r.principal.as_deref() == Some(identity.as_str())
                            && r.path.as_deref() == Some(items[n].rule_path.as_str())
                    })
                    .map(|r| r.id),
            };
            if let Some(rule) = rule
                && !self.held_elsewhere(collection, &rule, &tr.id).await?
            {
                self.globus.delete_rule(&manager, collection, &rule).await.map_err(unavailable)?;
            }
            items[n].principal = None;
            save(tr, &items)?;
            self.store.update_transfer(tr).await?;
        }
        Ok(())
    }
}
