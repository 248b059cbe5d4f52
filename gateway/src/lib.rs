//! The renkei gateway: the gRPC services (`renkei.v1`: CounterService, CardService,
//! AdminService) with reflection and health, the HTTP endpoints, the card readers, and
//! [`server::start`], which assembles them with the delivery side (renkei-delivery), the database
//! (renkei-store) and planning and prefill (renkei-mappings). The `renkei` binary is a thin
//! command line over it.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use renkei_gateway::config::{Config, SystemConfig};
//!
//! let mut config = Config::default();
//! config.systems.insert("resident-record".into(), SystemConfig::rest("http://127.0.0.1:8081/api/v1"));
//! let gateway = renkei_gateway::server::start(config).await?;
//! println!("counter API on {}", gateway.grpc_addr);
//! gateway.run_until(async { tokio::signal::ctrl_c().await.unwrap() }).await
//! # }
//! ```

pub mod backups;
pub mod cards;
pub mod config;
pub mod grpc;
mod http;
mod listen;
pub mod metrics;
pub mod server;
/// The database (the `renkei-store` crate), under the name the gateway's modules use.
pub use renkei_store as storage;
