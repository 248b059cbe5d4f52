//! What the load benchmarks share: the gateway in-process on loopback with a staff member's
//! token, a 異動届 to submit, and the quantiles they report.

use std::time::Duration;

use renkei_gateway::config::Config;
use renkei_gateway::server::RunningGateway;
use renkei_proto::Bearer;
use renkei_proto::v1 as pb;

/// A gateway started for one run, with its data directory and a token to call it with.
pub(crate) struct Bench {
    pub(crate) gateway: RunningGateway,
    /// `http://` and its gRPC address.
    pub(crate) addr: String,
    pub(crate) bearer: Bearer,
    /// The database's directory, removed when dropped: hold it until the gateway is shut down.
    pub(crate) data: tempfile::TempDir,
}

/// Start the gateway on loopback ports with a new embedded database, `adjust` applied to its
/// configuration (its core systems, another database), and a bench user's token.
pub(crate) async fn gateway(adjust: impl FnOnce(&mut Config)) -> Bench {
    let data = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.server.grpc_listen = "127.0.0.1:0".parse().unwrap();
    config.server.http_listen = "127.0.0.1:0".parse().unwrap();
    config.storage.data_dir = data.path().to_owned();
    // Every client calls as one user here; a city's staff have one each.
    config.auth.calls_per_second = 1_000_000;
    config.auth.calls_burst = 1_000_000;
    adjust(&mut config);
    let gateway = renkei_gateway::server::start(config).await.unwrap();
    let addr = format!("http://{}", gateway.grpc_addr);
    // The counter app's calls carry a staff member's token, as in service.
    let auth = &gateway.state().auth;
    auth.add_user("bench", "試験 職員", &["窓口職員".to_owned()], "a bench passphrase").await.unwrap();
    let bearer = Bearer::new(&auth.issue("bench", 3600).await.unwrap()).unwrap();
    Bench { gateway, addr, bearer, data }
}

/// A 住民異動届 (転居) of `atena` within the ward.
#[allow(dead_code)] // not every benchmark submits
pub(crate) fn moving(atena: &str) -> pb::ApplicationDraft {
    let value = |v: &str| pb::FieldValue { value: v.into(), provenance: pb::Provenance::Staff as i32 };
    let fields = [
        ("event_date", "2026-11-20"),
        ("new_address.prefecture", "神奈川県"),
        ("new_address.municipality", "横浜市鶴見区"),
        ("new_address.local_government_code", "141011"),
        ("new_address.town", "桜町二丁目"),
        ("new_address.banchi", "4番1号"),
    ];
    pb::ApplicationDraft {
        procedure_id: "jumin.idou".into(),
        applicant_atena_number: atena.into(),
        subject_atena_numbers: vec![atena.into()],
        life_event: pb::LifeEvent::MoveWithin as i32,
        fields: fields.iter().map(|(k, v)| ((*k).to_owned(), value(v))).collect(),
    }
}

/// The `q` quantile of `samples` (sorted in place).
pub(crate) fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[i]
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
