//! HTTP endpoints for load balancers and monitoring: `/healthz` (the process answers) and
//! `/readyz` (the database answers too); in the hub's push mode, `/hub/v1/changes`
//! ([`renkei_delivery::hub::PushIntake`]).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use std::sync::Arc;

use crate::backups::Backups;
use crate::metrics::Metrics;
use crate::storage::Db;
use renkei_delivery::hub::PushIntake;

pub(crate) fn router(state: &crate::grpc::GatewayState, push: Option<PushIntake>) -> Router {
    let mut systems: Vec<String> = state.systems.keys().cloned().collect();
    systems.sort();
    let http = Http {
        db: state.db.clone(),
        backups: state.backups.clone(),
        metrics: state.metrics.clone(),
        breakers: state.breakers.clone(),
        systems: Arc::new(systems),
    };
    let router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(scrape))
        .with_state(http);
    match push {
        Some(push) => router.merge(push.router()),
        None => router,
    }
}

#[derive(Clone)]
struct Http {
    db: Db,
    backups: Option<Arc<Backups>>,
    metrics: Metrics,
    breakers: Arc<renkei_delivery::breaker::Breakers>,
    /// The configured core systems, for their circuits and delivery states.
    systems: Arc<Vec<String>>,
}

/// The Prometheus text format (version 0.0.4).
async fn scrape(State(http): State<Http>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match http.metrics.render(&http.db, http.backups.as_deref(), &http.breakers, &http.systems).await {
        Ok(text) => ([(axum::http::header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")).into_response(),
    }
}

/// Ready while the database answers and, with scheduled backups, the last verified one is not
/// overdue.
async fn ready(State(Http { db, backups, .. }): State<Http>) -> (StatusCode, String) {
    if let Err(e) = db.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n"));
    }
    match backups.map(|b| b.health()) {
        Some((false, detail)) => (StatusCode::SERVICE_UNAVAILABLE, format!("backup: {detail}\n")),
        Some((true, detail)) => (StatusCode::OK, format!("ready\nbackup: {detail}\n")),
        None => (StatusCode::OK, "ready\n".to_owned()),
    }
}
