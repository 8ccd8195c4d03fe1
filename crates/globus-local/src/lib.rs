//! A Globus-compatible service (Auth, Groups, Transfer) that the official `globus` CLI
//! and `globus-sdk` work against unchanged. It runs on its own
//! (`gantry globus-local`) or embedded in another process.

pub mod config;
pub mod keys;
pub mod store;
