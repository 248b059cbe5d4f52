//! What the binary logs and traces: log lines to stderr through the `--log` filter, and spans
//! through OpenTelemetry.
//!
//! Spans (a gRPC call, a delivery attempt) always carry a W3C trace context, so the trace id
//! reaches the core systems in a `traceparent` header and an operator can follow one submission
//! into a vendor's logs. They are exported only when `[telemetry].otlp_endpoint` names an OTLP/HTTP
//! collector; otherwise they end where they are made.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use renkei_gateway::config::TelemetryConfig;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The tracer provider while the command runs; dropping it sends the spans not yet exported.
#[derive(Debug)]
pub(crate) struct Telemetry {
    provider: SdkTracerProvider,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("warning: traces not all exported: {e}");
        }
    }
}

/// Install the process's subscriber: log lines through `log` (an `EnvFilter`), spans of renkei's
/// own crates to OpenTelemetry, exported as `telemetry` says.
pub(crate) fn init(log: &str, telemetry: &TelemetryConfig) -> anyhow::Result<Telemetry> {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let resource =
        opentelemetry_sdk::Resource::builder().with_service_name(telemetry.service_name.clone()).build();
    let mut provider = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &telemetry.otlp_endpoint {
        // The exporter's HTTP client takes rustls's process-wide provider (renkei's own clients
        // name theirs); the first install wins, so a second call changes nothing.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint.as_str())
            .build()
            .map_err(|e| anyhow::anyhow!("[telemetry].otlp_endpoint: {e}"))?;
        provider = provider.with_batch_exporter(exporter);
    }
    let provider = provider.build();
    let tracer = provider.tracer("renkei");
    let logs = tracing_subscriber::fmt::layer()
        .with_target(false)
        // Logs go to stderr; stdout is the command's output (addresses, reports, summaries).
        .with_writer(std::io::stderr)
        .with_filter(tracing_subscriber::EnvFilter::try_new(log).unwrap_or_else(|_| "info".into()));
    // Spans are filtered apart from the log lines: `--log error` quiets the terminal, not the
    // traces.
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(tracing_subscriber::filter::Targets::new().with_target("renkei", tracing::Level::INFO));
    tracing_subscriber::registry().with(logs).with(spans).init();
    Ok(Telemetry { provider })
}
