//! The trace context a request to a core system carries: the delivery worker sets it around an
//! attempt ([`with_traceparent`]) and the REST transport sends it as the W3C `traceparent`
//! header, so the vendor's logs can be joined to renkei's trace of the submission.

use std::future::Future;

tokio::task_local! {
    static TRACEPARENT: Option<String>;
}

/// Run `f` with requests to core systems carrying `traceparent`.
pub async fn with_traceparent<F: Future>(traceparent: Option<String>, f: F) -> F::Output {
    TRACEPARENT.scope(traceparent, f).await
}

/// The `traceparent` of the attempt in progress, if any.
pub(crate) fn current() -> Option<String> {
    TRACEPARENT.try_with(Clone::clone).ok().flatten()
}
