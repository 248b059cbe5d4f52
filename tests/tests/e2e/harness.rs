//! A gateway and a simulated resident record on loopback, for one test.

use std::time::Duration;

use renkei_conformance::population::Population;
use renkei_conformance::resident_record::{ResidentRecordSimulator, SimulatorHandle};
use renkei_gateway::config::Config;
use renkei_gateway::server::RunningGateway;
use renkei_proto::v1 as pb;
use renkei_proto::v1::admin_service_client::AdminServiceClient;
use renkei_proto::v1::counter_service_client::CounterServiceClient;
use renkei_proto::{Authorized, Bearer};
use tonic::transport::Channel;

pub(crate) const SEED: u64 = 7;

/// The staff member the tests act as unless they say otherwise: counter work, the backyard
/// queue, administration and online intake.
pub(crate) const STAFF: &str = "staff-042";
/// A counter supervisor (may read individual numbers, take over sessions).
pub(crate) const SUPERVISOR: &str = "staff-007";
/// Another backyard reviewer.
pub(crate) const REVIEWER: &str = "staff-009";
/// Counter staff only.
pub(crate) const COLLEAGUE: &str = "staff-043";

const USERS: [(&str, &[&str]); 4] = [
    (COLLEAGUE, &["窓口職員"]),
    (STAFF, &["窓口職員", "バックヤード審査", "システム管理者", "オンライン受付"]),
    (SUPERVISOR, &["窓口責任者"]),
    (REVIEWER, &["バックヤード審査"]),
];

pub(crate) struct Harness {
    pub population: Population,
    pub simulator: SimulatorHandle,
    pub gateway: RunningGateway,
    _data_dir: tempfile::TempDir,
}

impl Harness {
    pub(crate) async fn start() -> Harness {
        Self::start_with(|_| {}).await
    }

    /// Start with `adjust` applied to the gateway's configuration.
    pub(crate) async fn start_with(adjust: impl FnOnce(&mut Config)) -> Harness {
        let population = Population::generate(300, SEED);
        let simulator = ResidentRecordSimulator::new(&population).start("127.0.0.1:0").await.unwrap();
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.server.grpc_listen = "127.0.0.1:0".parse().unwrap();
        config.server.http_listen = "127.0.0.1:0".parse().unwrap();
        config.storage.data_dir = data_dir.path().to_owned();
        config.systems.insert(
            "resident-record".into(),
            renkei_gateway::config::SystemConfig::rest(simulator.base_url()),
        );
        config.delivery.poll_interval_ms = 50;
        config.delivery.initial_backoff_ms = 50;
        config.delivery.max_backoff_ms = 200;
        adjust(&mut config);
        let gateway = renkei_gateway::server::start(config).await.unwrap();
        let auth = &gateway.state().auth;
        for (user, groups) in USERS {
            let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
            auth.add_user(user, "試験 職員", &groups, "a test passphrase").await.unwrap();
        }
        Harness { population, simulator, gateway, _data_dir: data_dir }
    }

    pub(crate) fn data_dir(&self) -> &std::path::Path {
        self._data_dir.path()
    }

    /// The access log of session `id`, oldest first.
    pub(crate) async fn access_log(&self, id: &str) -> Vec<renkei_gateway::storage::AuditEntry> {
        let id = id.to_owned();
        self.gateway
            .state()
            .db
            .read(move |c| renkei_gateway::storage::AuditEntry::for_session(c, &id))
            .await
            .unwrap()
    }

    /// Application `id` as the gateway committed it (opened with its keyring).
    pub(crate) async fn committed(&self, id: &str) -> Option<renkei_model::Application> {
        let (db, id) = (&self.gateway.state().db, id.to_owned());
        let keys = db.keys().clone();
        db.read(move |c| renkei_gateway::storage::submissions::committed_application(c, &keys, &id))
            .await
            .unwrap()
    }

    /// A channel with no token.
    pub(crate) async fn plain_channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.gateway.grpc_addr)).unwrap().connect().await.unwrap()
    }

    /// A channel whose calls carry a token of [`STAFF`].
    pub(crate) async fn channel(&self) -> Authorized {
        self.channel_as(STAFF).await
    }

    /// A channel whose calls carry a token of `user`.
    pub(crate) async fn channel_as(&self, user: &str) -> Authorized {
        let token = self.gateway.state().auth.issue(user, 600).await.unwrap();
        Bearer::new(&token).unwrap().on(self.plain_channel().await)
    }

    pub(crate) async fn counter(&self) -> CounterServiceClient<Authorized> {
        CounterServiceClient::new(self.channel().await)
    }

    pub(crate) async fn admin(&self) -> AdminServiceClient<Authorized> {
        AdminServiceClient::new(self.channel().await)
    }

    pub(crate) async fn open_session(&self, counter: &mut CounterServiceClient<Authorized>) -> String {
        counter
            .open_session(pb::OpenSessionRequest { counter_id: "window-3".into() })
            .await
            .unwrap()
            .into_inner()
            .session_id
    }
}

/// A 住民異動届 (転居) for `atena` moving to a new address in the same ward.
pub(crate) fn moving_notification(atena: &str) -> pb::ApplicationDraft {
    let field = |v: &str, provenance: pb::Provenance| pb::FieldValue {
        value: v.into(),
        provenance: provenance as i32,
    };
    let staff = pb::Provenance::Staff;
    pb::ApplicationDraft {
        procedure_id: "jumin.idou".into(),
        applicant_atena_number: atena.into(),
        subject_atena_numbers: vec![atena.into()],
        life_event: pb::LifeEvent::MoveWithin as i32,
        fields: [
            ("event_date", field("2026-11-20", staff)),
            ("new_address.prefecture", field("神奈川県", pb::Provenance::ResidentRecord)),
            ("new_address.municipality", field("横浜市鶴見区", pb::Provenance::ResidentRecord)),
            ("new_address.local_government_code", field("141011", pb::Provenance::ResidentRecord)),
            ("new_address.town", field("桜町二丁目", staff)),
            ("new_address.banchi", field("4番1号", staff)),
            ("new_address.katagaki", field("さくら荘201", staff)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    }
}

/// A 精神障害者保健福祉手帳 renewal for `atena`, which goes to the welfare system.
pub(crate) fn techo_renewal(atena: &str) -> pb::ApplicationDraft {
    let staff = |v: &str| pb::FieldValue { value: v.into(), provenance: pb::Provenance::Staff as i32 };
    pb::ApplicationDraft {
        procedure_id: "seishin.techo.koushin".into(),
        applicant_atena_number: atena.into(),
        subject_atena_numbers: vec![atena.into()],
        life_event: pb::LifeEvent::Unspecified as i32,
        fields: [
            ("name", "髙橋 ハル"),
            ("birth_date", "1926-12-25"),
            ("address", "神奈川県横浜市中区山下町1番地"),
            ("event_date", "2026-11-20"),
            ("techo.kind", "精神障害者保健福祉手帳"),
            ("techo.number", "A123456"),
            ("techo.grade", "2級"),
            ("techo.expiry", "2026-12-31"),
            ("basis", "診断書"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), staff(v)))
        .collect(),
    }
}

/// Wait on a session's event stream until an application reaches `status`.
pub(crate) async fn wait_for_status(
    counter: &mut CounterServiceClient<Authorized>,
    session_id: &str,
    application_id: &str,
    status: pb::ApplicationStatus,
) -> pb::DeliveryStatusChanged {
    let mut stream = counter
        .watch_session(pb::WatchSessionRequest { session_id: session_id.into() })
        .await
        .unwrap()
        .into_inner();
    let wait = async {
        while let Some(event) = stream.message().await.unwrap() {
            if let Some(pb::session_event::Event::Delivery(d)) = event.event
                && d.application_id == application_id
                && d.status == status as i32
            {
                return d;
            }
        }
        panic!("the session's event stream ended before {application_id} reached {status:?}");
    };
    tokio::time::timeout(Duration::from_secs(20), wait).await.expect("status change within 20 s")
}

pub(crate) fn date(y: i32, m: i32, d: i32) -> Option<pb::CalendarDate> {
    Some(pb::CalendarDate { year: y, month: m, day: d, wareki: String::new() })
}

/// The BadRequest field violations of an INVALID_ARGUMENT status, as `(field, description)`.
pub(crate) fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| (v.field, v.description)).collect())
        .unwrap_or_default()
}

/// Copy a directory tree (an operator's copy of the mapping set, in tests).
/// The items waiting in `department`'s backyard work queue, oldest first.
pub(crate) async fn queued_work_items(
    admin: &mut AdminServiceClient<Authorized>,
    department: &str,
) -> Vec<pb::WorkItem> {
    admin
        .list_work_items(pb::ListWorkItemsRequest {
            state: pb::WorkItemState::Queued as i32,
            department: department.into(),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .items
}

/// Key in every item waiting in `department`'s queue, as the backyard center does (claim, then
/// complete): each goes on to its core system. How many there were.
pub(crate) async fn complete_queued_work(
    admin: &mut AdminServiceClient<Authorized>,
    department: &str,
) -> usize {
    let items = queued_work_items(admin, department).await;
    for item in &items {
        let claim =
            pb::ClaimWorkItemRequest { work_item_id: item.work_item_id.clone(), department: String::new() };
        admin.claim_work_item(claim).await.unwrap();
        let complete =
            pb::CompleteWorkItemRequest { work_item_id: item.work_item_id.clone(), note: String::new() };
        admin.complete_work_item(complete).await.unwrap();
    }
    items.len()
}

pub(crate) fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
