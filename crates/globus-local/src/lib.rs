#![recursion_limit = "512"]
// Handlers return the HTTP error response itself as the error: it is large by nature.
#![allow(clippy::result_large_err)]
//! A Globus-compatible service (Auth, Groups, Transfer) that the official `globus` CLI
//! and `globus-sdk` work against unchanged. It runs on its own
//! (`gantry globus-local`) or embedded in another process.

pub mod auth;
pub mod config;
pub mod groups;
pub mod keys;
pub mod paths;
pub mod policy;
pub mod scopes;
pub mod service;
pub mod staged;
pub mod store;
pub mod tasks;
pub mod transfer;

pub use config::GlobusConfig;
pub use service::{Running, Service, load_config, start};
