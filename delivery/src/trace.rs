//! The W3C trace context (`traceparent`) across the outbox: the gRPC call that commits an
//! application records its context with the delivery, and each attempt continues that trace, so
//! the core system's request carries the trace id of the call at the counter.
//!
//! Spans get a context from the OpenTelemetry layer the binary installs; without one (a library
//! user, the in-process tests) these are no-ops and `traceparent` is `None`.

use std::collections::HashMap;

use tracing_opentelemetry::OpenTelemetrySpanExt;

const HEADER: &str = "traceparent";

/// `span`'s context as a `traceparent` value, if it has one.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let mut carrier: HashMap<String, String> = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&span.context(), &mut carrier));
    carrier.remove(HEADER)
}

/// Make `span` a child of the context `traceparent` names (a malformed one is ignored: the span
/// starts a trace of its own).
pub fn continue_from(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([(HEADER.to_owned(), traceparent.to_owned())]);
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
    let _ = span.set_parent(parent);
}
