//! The `gantry` command line: server, administration, and the registry client.

pub mod admin;
