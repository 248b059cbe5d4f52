//! Assembling and running the gateway: storage, mappings, adapters, delivery workers, the gRPC
//! services (with reflection and the standard health service) and the HTTP endpoints.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use renkei_auth::Authenticator;
use renkei_delivery::events::SessionEvents;
use renkei_delivery::hub::Hub;
use renkei_delivery::mappings::LiveMappings;
use renkei_delivery::systems;
use renkei_delivery::workers::Deliverer;
use renkei_proto::v1::admin_service_server::AdminServiceServer;
use renkei_proto::v1::auth_service_server::AuthServiceServer;
use renkei_proto::v1::card_service_server::CardServiceServer;
use renkei_proto::v1::counter_service_server::CounterServiceServer;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::info;

use crate::cards::CardReaders;
use crate::config::{Config, HubMode};
use crate::grpc::guard::{self, Guard};
use crate::grpc::{AdminApi, AuthApi, CardApi, CounterApi, GatewayState};
use crate::http;
use crate::storage::Db;

/// A running gateway. Dropping it does not stop it; call [`RunningGateway::shutdown`].
#[derive(Debug)]
pub struct RunningGateway {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    state: Arc<GatewayState>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl RunningGateway {
    pub fn state(&self) -> &Arc<GatewayState> {
        &self.state
    }

    /// Stop accepting calls, let the delivery in progress finish, and return.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        let cards = self.state.cards.clone();
        tokio::task::spawn_blocking(move || cards.stop()).await?;
        while let Some(done) = self.tasks.join_next().await {
            done??;
        }
        Ok(())
    }

    /// Run until one of the parts stops (which is an error) or `stop` resolves.
    pub async fn run_until(mut self, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        tokio::select! {
            _ = stop => {
                info!("shutting down");
                self.shutdown().await
            }
            Some(done) = self.tasks.join_next() => {
                let _ = self.shutdown.send(true);
                let cards = self.state.cards.clone();
                tokio::task::spawn_blocking(move || cards.stop()).await?;
                done??;
                anyhow::bail!("a part of the gateway stopped unexpectedly")
            }
        }
    }
}

/// Start every part of the gateway and return once it is listening.
pub async fn start(config: Config) -> anyhow::Result<RunningGateway> {
    // The listeners' settings first: a TLS or exposure mistake is named before anything opens.
    crate::listen::check_plaintext(&config.server)?;
    let limits = config.server.limits.limits()?;
    let grpc_tls = crate::listen::grpc_tls(&config.server)?;
    let http_tls = crate::listen::http_tls(&config.server)?;
    let mappings = Arc::new(LiveMappings::load(config.mappings.dir.clone())?);
    config.delivery.check_timeouts(&config.systems).map_err(|e| anyhow::anyhow!(e))?;
    let (resident_record, systems) = systems::build(&config.systems, mappings.clone())?;
    let url = config.storage.database_url();
    info!(database = %url.redacted(), "opening storage");
    let keys = Arc::new(config.storage.keyring()?);
    let db = tokio::task::spawn_blocking(move || Db::open(&url, keys)).await??;
    let auth = Arc::new(
        Authenticator::new(db.clone(), config.auth.clone(), &config.storage.data_dir.join("token.key"))
            .await
            .map_err(|e| anyhow::anyhow!(e))?,
    );
    let unguarded = guard::unguarded_methods(&[
        renkei_proto::v1::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ]);
    anyhow::ensure!(
        unguarded.is_empty(),
        "these RPCs have no entry in the permission table (renkei_auth::permissions::RPCS): {}",
        unguarded.join(", ")
    );

    let qr = renkei_adapter_intake::QrVerifier::from_hex_keys(&config.intake.qr_keys)
        .map_err(|e| anyhow::anyhow!("[intake].qr_keys: {e}"))?;
    let events = SessionEvents::default();
    let state = Arc::new(GatewayState {
        db: db.clone(),
        mappings,
        resident_record,
        systems: Arc::new(systems),
        events: events.clone(),
        delivery_wakeup: Arc::new(Notify::new()),
        documents: crate::grpc::Documents::new(config.documents.clone()),
        cards: CardReaders::start(&config.card, events),
        card_config: config.card.clone(),
        qr,
        ocr: renkei_adapter_intake::OcrIntake::new(config.intake.ocr_min_confidence),
        online_limits: config.intake.online,
        auth: auth.clone(),
        backups: match db.is_sqlite() && config.backup.interval_s > 0 {
            true => Some(Arc::new(crate::backups::Backups::new(&config.backup, &config.storage.data_dir)?)),
            false => None,
        },
        metrics: crate::metrics::Metrics::new(),
        breakers: Arc::new(renkei_delivery::breaker::Breakers::new(
            config.delivery.breaker_failures,
            Duration::from_millis(config.delivery.breaker_open_ms),
        )),
    });

    let grpc_listener = TcpListener::bind(config.server.grpc_listen).await.with_context(|| {
        format!("gRPC cannot listen on {} (in use? pass --grpc-listen)", config.server.grpc_listen)
    })?;
    let http_listener = TcpListener::bind(config.server.http_listen).await.with_context(|| {
        format!("HTTP cannot listen on {} (in use? pass --http-listen)", config.server.http_listen)
    })?;
    let grpc_addr = grpc_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;

    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<CounterServiceServer<CounterApi>>().await;
    health_reporter.set_serving::<CardServiceServer<CardApi>>().await;
    health_reporter.set_serving::<AdminServiceServer<AdminApi>>().await;
    health_reporter.set_serving::<AuthServiceServer<AuthApi>>().await;
    let reflection = |builder: tonic_reflection::server::Builder<'static>| {
        builder
            .register_encoded_file_descriptor_set(renkei_proto::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection(tonic_reflection::server::Builder::configure()).build_v1()?;
    let reflection_v1alpha = reflection(tonic_reflection::server::Builder::configure()).build_v1alpha()?;

    let server = &config.server;
    let mut builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(server.keepalive_interval_s)))
        .http2_keepalive_timeout(Some(Duration::from_secs(server.keepalive_timeout_s)));
    if let Some(tls) = grpc_tls {
        builder = builder.tls_config(tls).context("[server.tls]")?;
    }
    let router = builder
        // Every call passes the guard: the token, and the permission its method needs.
        .layer(Guard::new(auth.clone(), db.clone(), limits, state.metrics.clone()))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(AuthServiceServer::new(AuthApi::new(auth.clone())))
        .add_service(CounterServiceServer::new(CounterApi::new(state.clone())))
        .add_service(CardServiceServer::new(CardApi::new(state.clone())))
        // An online application file arrives whole in one message: allow what the intake allows.
        .add_service(
            AdminServiceServer::new(AdminApi::new(state.clone())).max_decoding_message_size(
                usize::try_from(config.intake.online.max_file_bytes)
                    .unwrap_or(usize::MAX)
                    .saturating_add(64 * 1024),
            ),
        );
    let (mut stop, incoming) = (shutdown_rx.clone(), crate::listen::limited(grpc_listener, server));
    tasks.spawn(async move {
        router
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
            .context("gRPC server")
    });

    // The change-feed hub, when it has subscribers.
    let hub = if config.hub.subscribers.is_empty() {
        None
    } else {
        Some(Arc::new(Hub::new(config.hub.clone(), &config.systems, db.clone(), state.mappings.clone())?))
    };
    let push = match (&hub, config.hub.mode) {
        (Some(hub), HubMode::Push) => {
            let path = config
                .hub
                .push_token_file
                .as_ref()
                .context("[hub].push_token_file is required in push mode")?;
            let token = std::fs::read_to_string(path)
                .with_context(|| format!("[hub].push_token_file: reading {}", path.display()))?;
            anyhow::ensure!(!token.trim().is_empty(), "[hub].push_token_file: {} is empty", path.display());
            Some(hub.push_intake(token))
        }
        _ => None,
    };
    if let Some(hub) = hub {
        let (source, stop) = (state.resident_record.clone(), shutdown_rx.clone());
        tasks.spawn(async move {
            hub.run(source, stop).await;
            Ok(())
        });
    }

    let (stop, http_app, server) = (shutdown_rx.clone(), http::router(&state, push), config.server.clone());
    tasks.spawn(async move {
        crate::listen::serve_http(http_listener, http_app, http_tls, &server, stop)
            .await
            .context("HTTP server")
    });

    let deliverer = Deliverer {
        db,
        systems: state.systems.clone(),
        events: state.events.clone(),
        config: config.delivery.clone(),
        wakeup: state.delivery_wakeup.clone(),
        breakers: state.breakers.clone(),
    };
    let stop = shutdown_rx.clone();
    tasks.spawn(async move {
        deliverer.run(stop).await;
        Ok(())
    });

    // The access log's head, signed at an interval (and once more at shutdown).
    let signer = Arc::new(
        crate::storage::audit::Checkpointer::load_or_create(&config.audit.key_file(&config.storage.data_dir))
            .map_err(|e| anyhow::anyhow!("[audit].signing_key_file: {e}"))?,
    );
    anyhow::ensure!(
        config.audit.retention_days >= 365,
        "[audit].retention_days = {}: access logs are kept at least a year (365)",
        config.audit.retention_days
    );
    // Entries past the retention time leave the live table as signed segments, at start and
    // then every six hours.
    let (db_ar, signer_ar, mut stop_ar) = (state.db.clone(), signer.clone(), shutdown_rx.clone());
    let (archive_dir, retention_ms) = (
        config.audit.archive_dir(&config.storage.data_dir),
        i64::from(config.audit.retention_days) * 86_400_000,
    );
    tasks.spawn(async move {
        loop {
            loop {
                let (signer, dir) = (signer_ar.clone(), archive_dir.clone());
                let before = renkei_store::now_ms() - retention_ms;
                match db_ar.write(move |c| crate::storage::archive::archive(c, &signer, &dir, before)).await {
                    Ok(Some(segment)) => {
                        info!(segment = %segment.file, entries = segment.entries, "access-log entries archived")
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "archiving the access log failed");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(6 * 3600)) => {}
                _ = stop_ar.wait_for(|s| *s) => return Ok(()),
            }
        }
    });
    let (db_cp, mut stop) = (state.db.clone(), shutdown_rx.clone());
    let every = std::time::Duration::from_secs(config.audit.checkpoint_interval_s.max(1));
    tasks.spawn(async move {
        loop {
            let stopping = tokio::select! {
                _ = tokio::time::sleep(every) => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            let signer = signer.clone();
            if let Err(e) = db_cp.write(move |c| signer.checkpoint(c)).await {
                tracing::error!(error = %e, "the access log's checkpoint could not be written");
            }
            if stopping {
                return Ok(());
            }
        }
    });

    if let Some(backups) = state.backups.clone() {
        let (db, stop) = (state.db.clone(), shutdown_rx.clone());
        tasks.spawn(async move {
            backups.run(db, stop).await;
            Ok(())
        });
    }

    if config.mappings.watch_interval_ms > 0 && state.mappings.dir().is_some() {
        let live = state.mappings.clone();
        let interval = std::time::Duration::from_millis(config.mappings.watch_interval_ms);
        let stop = shutdown_rx.clone();
        tasks.spawn(async move {
            live.watch(interval, stop).await;
            Ok(())
        });
    }

    info!(%grpc_addr, %http_addr, "gateway listening");
    Ok(RunningGateway { grpc_addr, http_addr, state, shutdown, tasks })
}
