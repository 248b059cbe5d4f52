//! The gate every call passes before a service sees it: the method's row in
//! [`renkei_auth::permissions::RPCS`], the bearer token checked into a [`Principal`], and the
//! permission the method needs. The principal travels on in the request's extensions, where the
//! handlers take it ([`principal_of`]). A method with no row is refused, never served unguarded.
//! Each principal may make `[auth].calls_per_second` calls a second (bursts of `calls_burst`);
//! beyond that a call is RESOURCE_EXHAUSTED.

use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use renkei_auth::{Access, AuthError, Authenticator, Principal, permissions};
use tonic::Status;
use tonic::body::Body;
use tracing::{Instrument, warn};

use crate::storage::{AuditEntry, Db};

type Limiter = governor::DefaultKeyedRateLimiter<String>;

/// A tower layer over the gRPC routes.
#[derive(Debug, Clone)]
pub struct Guard {
    auth: Arc<Authenticator>,
    limiter: Arc<Limiter>,
    /// Where refused calls are logged.
    db: Db,
    /// What a request may carry, checked as it is decoded.
    limits: Arc<renkei_proto::limits::Limits>,
    metrics: crate::metrics::Metrics,
}

impl Guard {
    pub fn new(
        auth: Arc<Authenticator>,
        db: Db,
        limits: renkei_proto::limits::Limits,
        metrics: crate::metrics::Metrics,
    ) -> Guard {
        let config = auth.config();
        let quota =
            governor::Quota::per_second(NonZeroU32::new(config.calls_per_second).unwrap_or(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(config.calls_burst).unwrap_or(NonZeroU32::MIN));
        Guard {
            auth,
            limiter: Arc::new(governor::RateLimiter::keyed(quota)),
            db,
            limits: Arc::new(limits),
            metrics,
        }
    }
}

impl<S> tower::Layer<S> for Guard {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded { inner, guard: self.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct Guarded<S> {
    inner: S,
    guard: Guard,
}

impl<S> tower::Service<http::Request<Body>> for Guarded<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this call; the fresh one waits for the next.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let guard = self.guard.clone();
        // What the call is counted and traced under.
        let method = crate::metrics::method_label(request.uri().path()).to_owned();
        // A span per call, continuing the caller's trace when it sent a `traceparent`.
        let span = tracing::info_span!(
            "rpc",
            otel.name = %method,
            otel.kind = "server",
            rpc.system = "grpc",
        );
        if let Some(parent) = request.headers().get("traceparent").and_then(|v| v.to_str().ok()) {
            renkei_delivery::trace::continue_from(&span, parent);
        }
        Box::pin(
            async move {
                let (started, path) = (std::time::Instant::now(), request.uri().path().to_owned());
                match admit(&guard, &mut request).await {
                    Ok(()) => {
                        let caller = principal(&request);
                        let response =
                            renkei_proto::limits::within(guard.limits.clone(), inner.call(request)).await?;
                        let code = code_of(&response);
                        guard.metrics.observe_rpc(&method, code, started.elapsed().as_secs_f64());
                        if let Some(entry) = call_entry(&path, caller.as_deref(), code)
                            && let Err(e) = guard.db.write(move |c| AuditEntry::insert_all(c, &[entry])).await
                        {
                            return Ok(super::status::storage(e).into_http());
                        }
                        Ok(response)
                    }
                    Err((status, who)) => {
                        guard.metrics.observe_rpc(&method, status.code(), started.elapsed().as_secs_f64());
                        // Every refusal is in the access log: who (when the token said), what, why.
                        let detail = format!("{path} {:?}", status.code());
                        let entry = AuditEntry::new(
                            "",
                            who.as_deref().unwrap_or(""),
                            "refused_call",
                            None,
                            Some(detail),
                        );
                        let entry = AuditEntry { staff_id: who, ..entry };
                        if let Err(e) = guard.db.write(move |c| AuditEntry::insert_all(c, &[entry])).await {
                            return Ok(super::status::storage(e).into_http());
                        }
                        Ok(status.into_http())
                    }
                }
            }
            .instrument(span),
        )
    }
}

fn principal(request: &http::Request<Body>) -> Option<Arc<Principal>> {
    request.extensions().get::<Arc<Principal>>().cloned()
}

/// A response's gRPC code. An error answers at once with its status in the headers
/// ("trailers-only"); a success puts OK in the trailers, after the body.
fn code_of(response: &http::Response<Body>) -> tonic::Code {
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from)
}

/// The access log's entry for an answered call: the method, its code and who called from where.
/// The health service and reflection, which carry no one's data and answer load balancers every
/// few seconds, have none.
fn call_entry(path: &str, caller: Option<&Principal>, code: tonic::Code) -> Option<AuditEntry> {
    if path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.") {
        return None;
    }
    let terminal = caller
        .and_then(|c| c.terminal.as_deref())
        .map(|t| format!(" terminal={}", renkei_proto::limits::echo(t)));
    let detail = format!("{path} {code:?}{}", terminal.unwrap_or_default());
    let mut entry = AuditEntry::new("", "", "call", None, Some(detail));
    entry.staff_id = caller.map(|c| c.subject.clone());
    Some(entry)
}

/// Let the call in, or the status to refuse it with and who was refused (when the token said).
async fn admit(guard: &Guard, request: &mut http::Request<Body>) -> Result<(), (Status, Option<String>)> {
    let anonymous = |status: Status| (status, None);
    let path = request.uri().path().to_owned();
    let Some(access) = permissions::access_for(&path) else {
        warn!(%path, "a call to a method with no permission entry was refused");
        return Err(anonymous(Status::unimplemented(format!("{path} is not served"))));
    };
    if access == Access::Public {
        return Ok(());
    }
    let token = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            anonymous(Status::unauthenticated(
                "no access token: send `authorization: Bearer <token>` (AuthService.Login)",
            ))
        })?;
    let mut principal = guard.auth.verify(token.trim()).await.map_err(|e| {
        anonymous(match e {
            AuthError::Unauthenticated(m) => Status::unauthenticated(m),
            other => super::status::auth(other),
        })
    })?;
    let refused = |status: Status| (status, Some(principal.subject.clone()));
    if guard.limiter.check_key(&principal.subject).is_err() {
        // Keys of principals gone quiet are dropped now and then, so the map stays the size of
        // the active staff.
        guard.limiter.retain_recent();
        return Err(refused(Status::resource_exhausted(format!(
            "rate limit: at most {} calls a second per user ([auth].calls_per_second); try again shortly",
            guard.auth.config().calls_per_second
        ))));
    }
    if let Access::Requires(permission) = access {
        if !principal.allows(permission) {
            return Err(refused(Status::permission_denied(format!(
                "{path} needs the permission {permission}, which the caller's groups do not grant"
            ))));
        }
    }
    principal.terminal = crate::listen::terminal_of(request.extensions());
    request.extensions_mut().insert(Arc::new(principal));
    Ok(())
}

/// Every method of every service in `descriptor_sets` (encoded `FileDescriptorSet`s) that has no
/// row in the permission table; the gateway does not start while there is one.
pub fn unguarded_methods(descriptor_sets: &[&[u8]]) -> Vec<String> {
    use prost::Message;
    let mut missing = Vec::new();
    for set in descriptor_sets {
        let set =
            prost_types::FileDescriptorSet::decode(*set).expect("the compiled-in descriptor sets decode");
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                    if permissions::access_for(&path).is_none() {
                        missing.push(path);
                    }
                }
            }
        }
    }
    missing
}

/// The principal a guarded call carries.
pub(crate) fn principal_of<T>(request: &tonic::Request<T>) -> Result<Arc<Principal>, Status> {
    request
        .extensions()
        .get::<Arc<Principal>>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no access token: send `authorization: Bearer <token>`"))
}
