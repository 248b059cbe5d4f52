//! HTTP endpoints for load balancers and monitoring: `/healthz` (the process answers) and
//! `/readyz` (the database answers too).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::storage::Db;

pub fn router(db: Db) -> Router {
    Router::new().route("/healthz", get(|| async { "ok\n" })).route("/readyz", get(ready)).with_state(db)
}

async fn ready(State(db): State<Db>) -> (StatusCode, String) {
    match db.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")),
    }
}
