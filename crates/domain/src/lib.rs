//! Gantry's domain: names and references, permissions, and the error type every
//! front door (OCI, REST, web) renders in its own way. No HTTP, no SQL here.

pub mod error;
pub mod manifest;
pub mod names;
pub mod perm;
pub mod sif;
pub mod time;

pub use error::{Error, ErrorKind, Result};
pub use names::{CollectionName, Digest, ImageRef, RefTarget, RepoName, Tag};
pub use perm::{Access, Principal, Role, TokenScope, Visibility};
