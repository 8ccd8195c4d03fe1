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
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Transfer => "transfer",
            JobKind::Gc => "gc",
        }
    }
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "transfer" => Ok(JobKind::Transfer),
            "gc" => Ok(JobKind::Gc),
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
