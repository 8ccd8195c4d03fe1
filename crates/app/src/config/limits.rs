//! How much one client may hold and for how long: the bounds that keep a hostile or
//! broken client from starving the others. Set in the `[limits]` table, or as
//! `GANTRY_LIMITS_<KEY>` in the environment.

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Connections served at once; further ones wait in the listen queue until one ends.
    pub max_connections: usize,
    /// Connections from one address at once; further ones are closed at once, so that no
    /// single client can fill `max_connections`.
    pub connections_per_address: usize,
    /// A client must send a whole request head within this many seconds of connecting or
    /// of its previous answer (so this is also how long an idle keep-alive connection stays).
    pub header_read_secs: u64,
    /// A request body that brings no bytes for this many seconds is cut off (the request
    /// fails; an upload keeps what arrived and can be resumed).
    pub body_idle_secs: u64,
    /// TLS handshakes that take longer are dropped.
    pub tls_handshake_secs: u64,
    /// Upload sessions one user may have open (not finished, cancelled or expired).
    pub uploads_per_user: u32,
    /// Device sign-ins (`gantry login` in a browser) waiting for approval, in all...
    pub pending_device_logins: u32,
    /// ...and started from one address within ten minutes.
    pub device_logins_per_address: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            connections_per_address: 256,
            header_read_secs: 10,
            body_idle_secs: 30,
            tls_handshake_secs: 10,
            uploads_per_user: 100,
            pending_device_logins: 1000,
            device_logins_per_address: 20,
        }
    }
}

impl Limits {
    /// The keys the environment may set (`GANTRY_LIMITS_<KEY>`).
    pub const KEYS: &'static [&'static str] = &[
        "max_connections",
        "connections_per_address",
        "header_read_secs",
        "body_idle_secs",
        "tls_handshake_secs",
        "uploads_per_user",
        "pending_device_logins",
        "device_logins_per_address",
    ];

    pub fn header_read(&self) -> Duration {
        Duration::from_secs(self.header_read_secs.max(1))
    }

    pub fn body_idle(&self) -> Duration {
        Duration::from_secs(self.body_idle_secs.max(1))
    }

    pub fn tls_handshake(&self) -> Duration {
        Duration::from_secs(self.tls_handshake_secs.max(1))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.max_connections == 0 || self.connections_per_address == 0 {
            anyhow::bail!("limits.max_connections and limits.connections_per_address must be at least 1");
        }
        Ok(())
    }
}
