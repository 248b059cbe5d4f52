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

pub(crate) fn router(
    db: Db,
    push: Option<PushIntake>,
    backups: Option<Arc<Backups>>,
    metrics: Metrics,
) -> Router {
    let router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(scrape))
        .with_state(Http { db, backups, metrics });
    match push {
        Some(push) => router.merge(push.router()),
        None => router,
    }
}

/// Ready while the database answers and, with scheduled backups, the last verified one is not
/// overdue.
#[derive(Clone)]
struct Http {
    db: Db,
    backups: Option<Arc<Backups>>,
    metrics: Metrics,
}

/// The Prometheus text format (version 0.0.4).
async fn scrape(State(http): State<Http>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match http.metrics.render(&http.db, http.backups.as_deref()).await {
        Ok(text) => ([(axum::http::header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")).into_response(),
    }
}

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
