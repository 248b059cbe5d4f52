use std::sync::Arc;
use std::time::Duration;

use renkei_proto::v1 as pb;
use renkei_proto::v1::admin_service_server::AdminService;
use tonic::{Request, Response, Status};

use super::GatewayState;
use super::convert::ms_to_timestamp;
use super::status;
use crate::storage::deliveries::{self, DeliveryRow, DeliveryState};

/// `AdminService`: what operators use to watch and unstick deliveries.
#[derive(Debug, Clone)]
pub struct AdminApi {
    state: Arc<GatewayState>,
}

impl AdminApi {
    pub fn new(state: Arc<GatewayState>) -> Self {
        Self { state }
    }
}

const DEFAULT_LIST_LIMIT: u32 = 100;
const MAX_LIST_LIMIT: u32 = 1000;
/// A system slower than this to answer a health probe counts as unhealthy.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

fn state_to_proto(state: &str) -> pb::DeliveryState {
    match DeliveryState::parse(state) {
        Ok(DeliveryState::Pending) => pb::DeliveryState::Pending,
        Ok(DeliveryState::InFlight) => pb::DeliveryState::InFlight,
        Ok(DeliveryState::Delivered) => pb::DeliveryState::Delivered,
        Ok(DeliveryState::Rejected) => pb::DeliveryState::Rejected,
        Ok(DeliveryState::Dead) => pb::DeliveryState::Dead,
        Err(_) => pb::DeliveryState::Unspecified,
    }
}

fn delivery_to_proto((row, procedure_id): (DeliveryRow, String)) -> pb::Delivery {
    let pending = row.state == DeliveryState::Pending.as_str();
    pb::Delivery {
        state: state_to_proto(&row.state) as i32,
        delivery_id: row.id,
        application_id: row.application_id,
        procedure_id,
        target_system: row.target_system,
        attempts: row.attempts as u32,
        last_error: row.last_error.unwrap_or_default(),
        receipt: row.receipt.unwrap_or_default(),
        created_at: Some(ms_to_timestamp(row.created_at_ms)),
        updated_at: Some(ms_to_timestamp(row.updated_at_ms)),
        next_attempt_at: pending.then(|| ms_to_timestamp(row.next_attempt_at_ms)),
    }
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let r = request.into_inner();
        let state = match pb::DeliveryState::try_from(r.state) {
            Ok(pb::DeliveryState::Unspecified) => None,
            Ok(pb::DeliveryState::Pending) => Some(DeliveryState::Pending),
            Ok(pb::DeliveryState::InFlight) => Some(DeliveryState::InFlight),
            Ok(pb::DeliveryState::Delivered) => Some(DeliveryState::Delivered),
            Ok(pb::DeliveryState::Rejected) => Some(DeliveryState::Rejected),
            Ok(pb::DeliveryState::Dead) => Some(DeliveryState::Dead),
            Err(_) => return Err(Status::invalid_argument("state: is not a known delivery state")),
        };
        let limit = match r.limit {
            0 => DEFAULT_LIST_LIMIT,
            n => n.min(MAX_LIST_LIMIT),
        };
        let rows = self
            .state
            .db
            .read(move |c| deliveries::list(c, state, i64::from(limit)))
            .await
            .map_err(status::storage)?;
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: rows.into_iter().map(delivery_to_proto).collect(),
        }))
    }

    async fn retry_delivery(
        &self,
        request: Request<pb::RetryDeliveryRequest>,
    ) -> Result<Response<pb::Delivery>, Status> {
        let id = request.into_inner().delivery_id;
        if id.is_empty() {
            return Err(Status::invalid_argument("delivery_id: is required"));
        }
        let requeue_id = id.clone();
        let requeued = self
            .state
            .db
            .write(move |c| deliveries::requeue(c, &requeue_id))
            .await
            .map_err(status::storage)?;
        let found = self.state.db.read(move |c| deliveries::get(c, &id)).await.map_err(status::storage)?;
        let Some(found) = found else {
            return Err(Status::not_found("delivery_id: no such delivery"));
        };
        if !requeued {
            return Err(Status::failed_precondition(format!(
                "delivery is {}; only dead or rejected deliveries can be retried",
                found.0.state
            )));
        }
        self.state.delivery_wakeup.notify_waiters();
        Ok(Response::new(delivery_to_proto(found)))
    }

    async fn reload_mappings(
        &self,
        _request: Request<pb::ReloadMappingsRequest>,
    ) -> Result<Response<pb::ReloadMappingsResponse>, Status> {
        let live = self.state.mappings.clone();
        let outcome = tokio::task::spawn_blocking(move || live.reload())
            .await
            .map_err(|_| Status::internal("the reload stopped unexpectedly"))?;
        Ok(Response::new(pb::ReloadMappingsResponse {
            reloaded: outcome.reloaded,
            problems: outcome.problems,
            version: outcome.version,
        }))
    }

    async fn list_work_items(
        &self,
        request: Request<pb::ListWorkItemsRequest>,
    ) -> Result<Response<pb::ListWorkItemsResponse>, Status> {
        super::work_queue::list(&self.state, &*super::guard::principal_of(&request)?, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn claim_work_item(
        &self,
        request: Request<pb::ClaimWorkItemRequest>,
    ) -> Result<Response<pb::WorkItem>, Status> {
        super::work_queue::claim(&self.state, &*super::guard::principal_of(&request)?, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn complete_work_item(
        &self,
        request: Request<pb::CompleteWorkItemRequest>,
    ) -> Result<Response<pb::WorkItem>, Status> {
        super::work_queue::complete(
            &self.state,
            &*super::guard::principal_of(&request)?,
            request.into_inner(),
        )
        .await
        .map(Response::new)
    }

    async fn return_work_item(
        &self,
        request: Request<pb::ReturnWorkItemRequest>,
    ) -> Result<Response<pb::WorkItem>, Status> {
        super::work_queue::return_to_counter(
            &self.state,
            &*super::guard::principal_of(&request)?,
            request.into_inner(),
        )
        .await
        .map(Response::new)
    }

    async fn submit_online_applications(
        &self,
        request: Request<pb::SubmitOnlineApplicationsRequest>,
    ) -> Result<Response<pb::SubmitOnlineApplicationsResponse>, Status> {
        super::online::submit_online_applications(
            &self.state,
            &*super::guard::principal_of(&request)?,
            request.into_inner(),
        )
        .await
        .map(Response::new)
    }

    async fn health(
        &self,
        _request: Request<pb::HealthRequest>,
    ) -> Result<Response<pb::HealthResponse>, Status> {
        let mut components = Vec::new();
        let db = match self.state.db.ping().await {
            Ok(()) => pb::ComponentHealth {
                name: "database".into(),
                healthy: true,
                detail: self.state.db.url().redacted(),
            },
            Err(e) => pb::ComponentHealth { name: "database".into(), healthy: false, detail: e.to_string() },
        };
        components.push(db);
        if let Some(backups) = &self.state.backups {
            let (healthy, detail) = backups.health();
            components.push(pb::ComponentHealth { name: "backup".into(), healthy, detail });
        }
        let refused = self.state.mappings.refused_problems();
        let version = self.state.mappings.current().version().to_owned();
        components.push(pb::ComponentHealth {
            name: "mappings".into(),
            healthy: refused.is_empty(),
            detail: if refused.is_empty() {
                format!("version {version}")
            } else {
                format!("edited files refused, version {version} stays in force: {}", refused.join("; "))
            },
        });
        for (name, system) in self.state.systems.iter() {
            let (healthy, detail) = match tokio::time::timeout(HEALTH_TIMEOUT, system.health()).await {
                Ok(Ok(())) => (true, "ok".to_owned()),
                Ok(Err(e)) => (false, e.to_string()),
                Err(_) => (false, format!("no answer within {} s", HEALTH_TIMEOUT.as_secs())),
            };
            components.push(pb::ComponentHealth { name: format!("system:{name}"), healthy, detail });
        }
        let (pending, dead) = self
            .state
            .db
            .read(|c| {
                Ok((
                    deliveries::count(c, DeliveryState::Pending)?,
                    deliveries::count(c, DeliveryState::Dead)?,
                ))
            })
            .await
            .unwrap_or((0, 0));
        Ok(Response::new(pb::HealthResponse {
            healthy: components.iter().all(|c| c.healthy),
            components,
            pending_deliveries: pending,
            dead_deliveries: dead,
        }))
    }
}
