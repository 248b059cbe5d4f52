//! HTTP endpoints for load balancers and monitoring: `/healthz` (the process answers) and
//! `/readyz` (the database answers too); in the hub's push mode, `/hub/v1/changes`
//! ([`renkei_delivery::hub::PushIntake`]).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::storage::Db;
use renkei_delivery::hub::PushIntake;

pub(crate) fn router(db: Db, push: Option<PushIntake>) -> Router {
    let router =
        Router::new().route("/healthz", get(|| async { "ok\n" })).route("/readyz", get(ready)).with_state(db);
    match push {
        Some(push) => router.merge(push.router()),
        None => router,
    }
}

async fn ready(State(db): State<Db>) -> (StatusCode, String) {
    match db.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")),
    }
}
