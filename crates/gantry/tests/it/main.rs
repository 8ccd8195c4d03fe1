//! Gantry's integration suite: one test binary, real servers on 127.0.0.1:0, every
//! registry test on both SQLite and PostgreSQL.

pub use gantry_store::both_backends;

mod api;
mod cli;
mod cli_login;
mod clients;
mod crash;
mod demo;
mod experiment_transfers;
mod experiments;
mod gc;
mod globus;
mod globus_bodies;
mod globus_helpers;
mod globus_surface;
#[allow(dead_code)]
mod harness;
mod hostile;
mod jupyterhub;
mod matrix;
mod oci;
mod ocikit;
mod process;
mod resource_server;
mod signin;
mod tls;
mod transfer_page;
mod transfers;
mod ui;
