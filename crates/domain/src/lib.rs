//! Gantry's domain: names and references, permissions, and the error type every
//! front door (OCI, REST, web) renders in its own way. No HTTP, no SQL here.

/// `FromStr` and `Display` for an enum with `parse` and `as_str`.
macro_rules! text_enum {
    ($($t:ty),*) => {$(
        impl std::str::FromStr for $t {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> { Self::parse(s) }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    )*};
}

pub mod chunks;
pub mod error;
pub mod manifest;
pub mod names;
pub mod perm;
pub mod sif;
pub mod status;
pub mod text;
pub mod time;
pub mod url;

pub use error::{Error, ErrorKind, Result};
pub use names::{CollectionName, Digest, ImageRef, RefTarget, RepoName, Tag};
pub use perm::{Access, Grants, Principal, Role, TokenScope, Visibility};
pub use status::{JobKind, LinkStatus, SyncLevel, TransferStatus};
