//! End-to-end scenarios over loopback. See README.md.

mod api;
mod at_rest;
mod auth;
mod backups;
mod card;
mod core_systems;
mod counter_flow;
mod delivery;
mod faults;
mod harness;
mod limits;
mod mappings;
mod metrics;
mod online;
mod planning;
mod tls;
