//! The `gantry` command line: server, administration, and the registry client.

pub mod admin;
pub mod cli_cmd;
pub mod demo;
pub mod demo_facility;
pub mod experiment_cmd;
pub mod output;
pub mod transfer_cmd;
