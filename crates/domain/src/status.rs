//! The states long-running work moves through, named once for every front door.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Where a transfer to a Globus endpoint stands. A canceled task ends as `Failed`, as
/// it does at Globus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransferStatus {
    /// The export is made; the access rule and the task are being obtained.
    Preparing,
    /// Globus is moving the bytes.
    Active,
    Succeeded,
    Failed,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Preparing => "PREPARING",
            TransferStatus::Active => "ACTIVE",
            TransferStatus::Succeeded => "SUCCEEDED",
            TransferStatus::Failed => "FAILED",
        }
    }
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "PREPARING" => Ok(TransferStatus::Preparing),
            "ACTIVE" => Ok(TransferStatus::Active),
            "SUCCEEDED" => Ok(TransferStatus::Succeeded),
            "FAILED" => Ok(TransferStatus::Failed),
            _ => Err(Error::invalid(format!("unknown transfer status {s:?}"))),
        }
    }
    pub fn is_final(self) -> bool {
        matches!(self, TransferStatus::Succeeded | TransferStatus::Failed)
    }
}

/// Whether a user's Globus connection works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkStatus {
    Ok,
    /// The tokens no longer work: the user has to connect Globus again.
    Reconnect,
}

impl LinkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkStatus::Ok => "ok",
            LinkStatus::Reconnect => "reconnect",
        }
    }
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "ok" => Ok(LinkStatus::Ok),
            "reconnect" => Ok(LinkStatus::Reconnect),
            _ => Err(Error::invalid(format!("unknown connection status {s:?}"))),
        }
    }
}

/// The kinds of long work Gantry keeps as jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Following a transfer to a Globus endpoint until it is cleaned up.
    Transfer,
    /// Garbage collection (one at a time).
    Gc,
    /// Syncing every linked user's experiments from the facility's user office.
    FacilitySync,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Transfer => "transfer",
            JobKind::Gc => "gc",
            JobKind::FacilitySync => "facility-sync",
        }
    }
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "transfer" => Ok(JobKind::Transfer),
            "gc" => Ok(JobKind::Gc),
            "facility-sync" => Ok(JobKind::FacilitySync),
            _ => Err(Error::invalid(format!("unknown job kind {s:?}"))),
        }
    }
}

text_enum!(TransferStatus, LinkStatus, JobKind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in [TransferStatus::Preparing, TransferStatus::Active, TransferStatus::Succeeded, TransferStatus::Failed]
        {
            assert_eq!(TransferStatus::parse(s.as_str()).unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!(TransferStatus::parse("CANCELED").is_err());
        assert_eq!(LinkStatus::parse("reconnect").unwrap(), LinkStatus::Reconnect);
        assert!(!TransferStatus::Active.is_final() && TransferStatus::Failed.is_final());
    }
}

/// When Globus skips a file already at the destination (its `sync_level`): not when it
/// does not exist there, when its size, its modification time or its checksum differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncLevel {
    Exists = 0,
    Size = 1,
    Mtime = 2,
    Checksum = 3,
}

impl SyncLevel {
    pub const ALL: [SyncLevel; 4] = [SyncLevel::Exists, SyncLevel::Size, SyncLevel::Mtime, SyncLevel::Checksum];

    pub fn as_str(self) -> &'static str {
        match self {
            SyncLevel::Exists => "exists",
            SyncLevel::Size => "size",
            SyncLevel::Mtime => "mtime",
            SyncLevel::Checksum => "checksum",
        }
    }
    pub fn parse(s: &str) -> Result<Self> {
        SyncLevel::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| Error::invalid(format!("unknown sync level {s:?}: use exists, size, mtime or checksum")))
    }
    /// Globus's number for it.
    pub fn level(self) -> i64 {
        self as i64
    }
    /// What it means, for a form.
    pub fn describe(self) -> &'static str {
        match self {
            SyncLevel::Exists => "skip files already there",
            SyncLevel::Size => "skip files of the same size",
            SyncLevel::Mtime => "skip files not older than the source",
            SyncLevel::Checksum => "skip files with the same checksum",
        }
    }
}

text_enum!(SyncLevel);
