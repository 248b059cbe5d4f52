//! The tax, NHI and welfare adapters against their simulators over loopback: every operation on
//! each transport, and what the adapter does with every fault (retried, surfaced, refused).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use renkei_adapter_core::{
    CoreSystem, DeliveryError, FileTransferConfig, RestConfig, TransportConfig, TransportError,
};
use renkei_adapter_mapped::nhi::{MemberError, NhiSystem};
use renkei_adapter_mapped::tax::{CertificateError, TaxSystem};
use renkei_adapter_mapped::{FixedMappings, MappedSystem, MappingSource};
use renkei_conformance::applications::keyed_in;
use renkei_conformance::core_system::{CoreSystemHandle, CoreSystemSimulator, SystemKind};
use renkei_conformance::faults::Fault;
use renkei_conformance::population::{HardCase, Population};
use renkei_mappings::MappingSet;
use renkei_model::{Application, AtenaNumber, FieldValue, LifeEvent, MojiText, Provenance};

fn mappings() -> Arc<MappingSet> {
    Arc::new(MappingSet::embedded().unwrap())
}

fn source(set: &Arc<MappingSet>) -> Arc<dyn MappingSource> {
    Arc::new(FixedMappings(set.clone()))
}

fn atena(case: HardCase) -> AtenaNumber {
    case.atena_number()
}

fn application(procedure: &str, subjects: &[HardCase], fields: &[(&str, &str)]) -> Application {
    keyed_in(procedure, atena(HardCase::IvsName), subjects.iter().map(|c| atena(*c)).collect(), None, fields)
}

fn jidou_teate() -> Application {
    application(
        "jidou.teate",
        &[HardCase::ShowaLastDay],
        &[
            ("event_date", "2026-04-10"),
            ("bank.code", "0138"),
            ("bank.branch", "123"),
            ("bank.account_type", "普通"),
            ("bank.account_number", "1234567"),
            ("bank.holder_kana", "カサイ　タロウ"),
        ],
    )
}

fn kokuho(kind: &str) -> Application {
    let mut fields = vec![("idou_kubun", kind), ("event_date", "2026-04-01")];
    match kind {
        "加入" => fields.push(("reason", "move_in")),
        "脱退" => fields.push(("reason", "move_out")),
        _ => fields.push(("change_reason", "move_within")),
    }
    let mut app = application("kokuho.idou", &[HardCase::IvsName], &fields);
    app.life_event = Some(LifeEvent::MoveIn);
    app
}

async fn simulator(kind: SystemKind, set: &Arc<MappingSet>, inbox: Option<&Path>) -> CoreSystemHandle {
    let population = Population::generate(100, 1);
    let mut sim = CoreSystemSimulator::new(kind, &population, set.clone());
    if let Some(inbox) = inbox {
        sim = sim.with_inbox(inbox.to_owned());
    }
    sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn rest(sim: &CoreSystemHandle, timeout_ms: u64) -> TransportConfig {
    let mut config = RestConfig::new(sim.base_url());
    config.timeout_ms = timeout_ms;
    TransportConfig::Rest(config)
}

fn file(inbox: &Path, ack_timeout_ms: u64) -> TransportConfig {
    TransportConfig::File(FileTransferConfig { inbox: Some(inbox.to_owned()), ack_timeout_ms })
}

#[tokio::test]
async fn welfare_applications_go_through_their_mappings_over_rest_once_per_key() {
    let set = mappings();
    let sim = simulator(SystemKind::Welfare, &set, None).await;
    let welfare = MappedSystem::new("welfare", &rest(&sim, 5_000), source(&set)).unwrap();

    let receipt = welfare.deliver("app-1", &jidou_teate()).await.unwrap();
    assert!(!receipt.duplicate);
    let got = sim.received_by_key("app-1").unwrap();
    assert_eq!(got.interface, "jidou-teate");
    assert_eq!(got.reference, receipt.reference);
    assert_eq!(got.records[0]["seikyusha_atena_no"], "0000000019");
    assert_eq!(got.records[0]["koza.meigi_kana"], "ｶｻｲ ﾀﾛｳ", "{got:?}");

    let again = welfare.deliver("app-1", &jidou_teate()).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.reference, receipt.reference);
    assert_eq!(sim.received().len(), 1);
    assert_eq!(sim.times_sent("app-1"), 2);

    // A procedure of another system is not this adapter's.
    let e = welfare.deliver("app-2", &kokuho("加入")).await.unwrap_err();
    assert!(matches!(e, DeliveryError::Unsupported { .. }), "{e}");
    welfare.health().await.unwrap();
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_application_that_does_not_map_is_refused_naming_system_record_and_item_and_nothing_is_sent() {
    let set = mappings();
    let dir = tempfile::tempdir().unwrap();
    let sim = simulator(SystemKind::Nhi, &set, Some(dir.path())).await;
    let nhi = MappedSystem::new("nhi", &file(dir.path(), 2_000), source(&set)).unwrap();
    let mut app = kokuho("加入");
    app.fields.insert(
        "reason".into(),
        FieldValue { value: MojiText::new("lottery").unwrap(), provenance: Provenance::Staff },
    );
    let e = nhi.deliver("bad-1", &app).await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, DeliveryError::Rejected { .. }) && !e.is_retryable(), "{text}");
    assert!(
        text.starts_with("nhi refused the application: nhi/shikaku-shutoku@1: record application bad-1: "),
        "{text}"
    );
    assert!(text.contains("(shutoku_jiyu): has no code in table nhi-reason"), "{text}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no partial file is written");

    let e = nhi.deliver("bad-2", &kokuho("転居")).await.unwrap_err();
    assert!(e.to_string().contains("fields.idou_kubun: has no interface for this value"), "{e}");
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn nhi_changes_go_as_shift_jis_csv_files_chosen_by_the_form() {
    let set = mappings();
    let dir = tempfile::tempdir().unwrap();
    let sim = simulator(SystemKind::Nhi, &set, Some(dir.path())).await;
    let nhi =
        NhiSystem::new("nhi", &file(dir.path(), 5_000), Some(&RestConfig::new(sim.base_url())), source(&set))
            .unwrap();
    for (i, (kind, interface)) in
        [("加入", "shikaku-shutoku"), ("脱退", "shikaku-soshitsu"), ("記載事項変更", "kisai-henko")]
            .into_iter()
            .enumerate()
    {
        let key = format!("kokuho-{i}");
        let receipt = nhi.deliver(&key, &kokuho(kind)).await.unwrap();
        let got = sim.received_by_key(&key).unwrap();
        assert_eq!((got.interface.as_str(), got.transport), (interface, "file"));
        assert_eq!(receipt.reference, got.reference);
        let name = format!("{interface}-{key}.csv");
        let bytes = std::fs::read(dir.path().join(&name)).unwrap();
        assert!(bytes.starts_with(b"todokede_atena_no,") || bytes.iter().any(|b| *b >= 0x80), "{name}");
        assert!(dir.path().join(format!("{name}.ack")).exists());
    }
    assert_eq!(sim.received().len(), 3);

    // Member lookup over REST: the 宛名 as the NHI system holds it, shrunk to JIS X 0208.
    let member = nhi.member(&atena(HardCase::IvsName)).await.unwrap().unwrap();
    assert_eq!(member.resident.atena_number, atena(HardCase::IvsName));
    assert_eq!(member.resident.name.family.as_str(), "葛西");
    assert!(nhi.member(&"0000099996".parse().unwrap()).await.unwrap().is_none());
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn tax_certificates_come_back_as_data_to_print() {
    let set = mappings();
    let sim = simulator(SystemKind::Tax, &set, None).await;
    let tax = TaxSystem::new("tax", &rest(&sim, 5_000), source(&set)).unwrap();
    for (kind, mapping, records) in [
        ("income_tax_certificate", "tax/kazei-shomei@1", 1),
        ("tax_payment_certificate", "tax/nozei-shomei@1", 4),
        ("property_valuation_certificate", "tax/hyoka-shomei@1", 1),
    ] {
        let request = application(
            "zei.shoumei",
            &[],
            &[("certificate_kind", kind), ("fiscal_year", "2026"), ("event_date", "2026-06-01")],
        );
        let certificate = tax.issue(&format!("zei-{kind}"), &request).await.unwrap();
        assert_eq!(certificate.mapping.to_string(), mapping);
        assert_eq!(certificate.records.len(), records, "{kind}");
        assert_eq!(certificate.records[0].get("subject").unwrap().to_text(), "0000000019");
        assert_eq!(certificate.reference, sim.received_by_key(&format!("zei-{kind}")).unwrap().reference);
    }
    let kazei = tax
        .issue(
            "zei-again",
            &application(
                "zei.shoumei",
                &[],
                &[
                    ("certificate_kind", "income_tax_certificate"),
                    ("fiscal_year", "2026"),
                    ("event_date", "2026-06-01"),
                ],
            ),
        )
        .await
        .unwrap();
    assert_eq!(kazei.records[0].get("fields.name").unwrap().to_text(), "葛西　太郎");
    // Delivered as an application (the kind as the form offers it, the code table's label),
    // the certificate is requested and checked whole.
    let request = application(
        "zei.shoumei",
        &[],
        &[("certificate_kind", "納税証明書"), ("fiscal_year", "2026"), ("event_date", "2026-06-01")],
    );
    let receipt = tax.deliver("zei-deliver", &request).await.unwrap();
    assert_eq!(receipt.reference, sim.received_by_key("zei-deliver").unwrap().reference);
    sim.shutdown().await.unwrap();
}

/// What the REST adapter does with each fault: the outcome of the first attempt, and that a
/// retry with the same key leaves exactly one record at the system.
#[tokio::test]
async fn every_rest_fault_is_retried_or_surfaced_and_never_recorded_twice() {
    let set = mappings();
    let sim = simulator(SystemKind::Welfare, &set, None).await;
    let welfare = MappedSystem::new("welfare", &rest(&sim, 300), source(&set)).unwrap();
    for (i, fault) in Fault::all(Duration::from_millis(800)).into_iter().enumerate() {
        let key = format!("fault-{i}");
        sim.faults().inject(match fault {
            Fault::Latency(_) => Fault::Latency(Duration::from_millis(50)),
            other => other,
        });
        let first = welfare.deliver(&key, &jidou_teate()).await;
        match fault {
            Fault::Latency(_) => assert!(!first.unwrap().duplicate, "{fault:?}"),
            Fault::DuplicateAck => assert!(first.unwrap().duplicate, "accepted, flagged as seen before"),
            Fault::Malformed => {
                let e = first.unwrap_err();
                assert!(!e.is_retryable(), "{e}");
                assert!(e.to_string().starts_with("welfare: jidou-teate: unreadable response"), "{e}");
            }
            Fault::Unavailable
            | Fault::LoseResponse
            | Fault::Timeout(_)
            | Fault::DropConnection
            | Fault::DiskFull => {
                let e = first.unwrap_err();
                assert!(e.is_retryable(), "{fault:?}: {e}");
                assert!(e.to_string().starts_with("welfare: jidou-teate"), "{e}");
                if let Fault::Timeout(_) = fault {
                    assert!(matches!(e, DeliveryError::Transport(TransportError::Timeout { .. })), "{e}");
                }
                // What the worker does next: the same key again.
                let retry = welfare.deliver(&key, &jidou_teate()).await.unwrap();
                assert_eq!(retry.duplicate, fault.handles_request(), "{fault:?}");
            }
        }
        assert_eq!(sim.received().iter().filter(|r| r.idempotency_key == key).count(), 1, "{fault:?}");
    }
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_file_fault_is_retried_or_surfaced_and_never_recorded_twice() {
    let set = mappings();
    let dir = tempfile::tempdir().unwrap();
    let sim = simulator(SystemKind::Nhi, &set, Some(dir.path())).await;
    let nhi = MappedSystem::new("nhi", &file(dir.path(), 400), source(&set)).unwrap();
    for (i, fault) in Fault::all(Duration::from_millis(900)).into_iter().enumerate() {
        let key = format!("fault-{i}");
        sim.faults().inject(match fault {
            Fault::Latency(_) => Fault::Latency(Duration::from_millis(50)),
            other => other,
        });
        let first = nhi.deliver(&key, &kokuho("加入")).await;
        match fault {
            Fault::Latency(_) => assert!(!first.unwrap().duplicate),
            // The system stopped before acknowledging; it answers from its record at the next poll.
            Fault::DropConnection | Fault::DuplicateAck => assert!(first.unwrap().duplicate, "{fault:?}"),
            Fault::Malformed => {
                let e = first.unwrap_err();
                assert!(!e.is_retryable(), "{e}");
                assert!(e.to_string().contains(".csv.ack: field status: is missing"), "{e}");
            }
            Fault::Unavailable | Fault::LoseResponse | Fault::Timeout(_) | Fault::DiskFull => {
                let e = first.unwrap_err();
                assert!(e.is_retryable(), "{fault:?}: {e}");
                assert!(e.to_string().starts_with("nhi: shikaku-shutoku"), "{e}");
                let retry = nhi.deliver(&key, &kokuho("加入")).await;
                let retry = match (fault, retry) {
                    // Still within the system's delay: the worker tries again later.
                    (Fault::Timeout(_), Err(e)) if e.is_retryable() => {
                        nhi.deliver(&key, &kokuho("加入")).await.unwrap()
                    }
                    (_, r) => r.unwrap(),
                };
                // A timed-out file is still waiting and is acknowledged once; a failed one is
                // written again and the system answers it from its record if it kept one.
                let seen_before = matches!(fault, Fault::LoseResponse);
                assert_eq!(retry.duplicate, seen_before, "{fault:?}");
            }
        }
        assert_eq!(sim.received().iter().filter(|r| r.idempotency_key == key).count(), 1, "{fault:?}");
    }

    // A full disk at the system: its acknowledgements cannot be written, the delivery times out
    // and is retried, and once there is room the retry finds its file acknowledged, once.
    sim.disk().set_space(Some(0));
    let e = nhi.deliver("disk", &kokuho("加入")).await.unwrap_err();
    assert!(matches!(e, DeliveryError::Transport(TransportError::Timeout { .. })), "{e}");
    assert_eq!(sim.times_sent("disk"), 1, "recorded, not acknowledged");
    sim.disk().set_space(None);
    let receipt = nhi.deliver("disk", &kokuho("加入")).await.unwrap();
    assert_eq!(receipt.reference, sim.received_by_key("disk").unwrap().reference);
    assert_eq!(sim.received().iter().filter(|r| r.idempotency_key == "disk").count(), 1);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn lookups_and_certificates_surface_faults() {
    let set = mappings();
    let tax_sim = simulator(SystemKind::Tax, &set, None).await;
    let tax = TaxSystem::new("tax", &rest(&tax_sim, 300), source(&set)).unwrap();
    let request = application(
        "zei.shoumei",
        &[],
        &[
            ("certificate_kind", "income_tax_certificate"),
            ("fiscal_year", "2026"),
            ("event_date", "2026-06-01"),
        ],
    );
    // A malformed answer is reported with system, mapping, request and record; nothing is used.
    tax_sim.faults().inject(Fault::Malformed);
    let e = tax.issue("zei-1", &request).await.unwrap_err();
    assert!(matches!(e, CertificateError::Record { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "tax: tax/kazei-shomei@1: certificate for request zei-1: record 1: (record): truncated: the data ends inside this record"
    );
    tax_sim.faults().inject(Fault::Unavailable);
    let e = tax.issue("zei-2", &request).await.unwrap_err();
    assert!(matches!(e, CertificateError::Delivery(ref d) if d.is_retryable()), "{e}");
    assert_eq!(tax.issue("zei-2", &request).await.unwrap().records.len(), 1);

    let nhi_sim = simulator(SystemKind::Nhi, &set, None).await;
    let nhi = NhiSystem::new("nhi", &rest(&nhi_sim, 300), None, source(&set)).unwrap();
    nhi_sim.faults().inject(Fault::Malformed);
    let e = nhi.member(&atena(HardCase::IvsName)).await.unwrap_err();
    assert!(matches!(e, MemberError::Record { .. }), "{e}");
    assert!(
        e.to_string().starts_with("nhi: nhi/member@1: member 0000000019: record 1: (record): truncated"),
        "{e}"
    );
    nhi_sim.faults().inject(Fault::Timeout(Duration::from_millis(800)));
    let e = nhi.member(&atena(HardCase::IvsName)).await.unwrap_err();
    assert!(matches!(e, MemberError::Transport(TransportError::Timeout { .. })), "{e}");
    tax_sim.shutdown().await.unwrap();
    nhi_sim.shutdown().await.unwrap();
}

/// Serves `body` as the answer to every member lookup.
async fn serve_member(body: Vec<u8>) -> String {
    let router = axum::Router::new().route(
        "/api/v1/member/{atena_no}",
        axum::routing::get(move || {
            let body = body.clone();
            async move { body }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/api/v1")
}

/// Wrong charset bytes and unknown codes in an answer are reported with the system, the record
/// and the item, and no member is returned.
#[tokio::test]
async fn wrong_charset_bytes_and_unknown_codes_name_system_record_and_item() {
    let set = mappings();
    let member = set.mapping("nhi", "member", renkei_model::Date::today()).unwrap().clone();
    let population = Population::generate(100, 1);
    let resident = population.resident(&atena(HardCase::IvsName)).unwrap();
    let canonical = renkei_mappings::CanonicalRecord::from_resident(member.schema(), resident);
    let mut record = member.new_system();
    member.to_system(&canonical, &mut record, &mut renkei_mappings::Report::default()).unwrap();
    let mut good = Vec::new();
    renkei_adapter_mapped::encode_document(&member, std::slice::from_ref(&record), &mut good).unwrap();
    let at = |key: &str| member.items[member.item_index(key).unwrap()].offset;

    let mut bad_bytes = good.clone();
    let shimei = at("shimei");
    bad_bytes[shimei..shimei + 2].copy_from_slice(b"\x82 ");
    let mut unknown_code = good.clone();
    unknown_code[at("seibetsu")] = b'7';

    for (body, expected) in [
        (bad_bytes, "(shimei): is not valid shift_jis"),
        (unknown_code, "(seibetsu): is not a code of table sex"),
    ] {
        let base = serve_member(body).await;
        let nhi =
            NhiSystem::new("nhi", &TransportConfig::Rest(RestConfig::new(base)), None, source(&set)).unwrap();
        let e = nhi.member(&atena(HardCase::IvsName)).await.unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("nhi: nhi/member@1: member 0000000019: "), "{text}");
        assert!(text.contains(expected), "{text}");
    }
    let base = serve_member(good).await;
    let nhi =
        NhiSystem::new("nhi", &TransportConfig::Rest(RestConfig::new(base)), None, source(&set)).unwrap();
    assert!(nhi.member(&atena(HardCase::IvsName)).await.unwrap().is_some());
}

/// A file the system finds cut short (its size is not the one announced) is refused, not taken.
#[tokio::test]
async fn a_truncated_file_is_refused_by_the_system_and_surfaced_as_a_refusal() {
    let set = mappings();
    let dir = tempfile::tempdir().unwrap();
    let sim = simulator(SystemKind::Nhi, &set, Some(dir.path())).await;
    let name = "shikaku-shutoku-cut.csv";
    std::fs::write(dir.path().join(name), b"todokede_atena_no,shutoku").unwrap();
    std::fs::write(dir.path().join(format!("{name}.done")), b"records=1\nbytes=400\n").unwrap();
    let nhi = MappedSystem::new("nhi", &file(dir.path(), 5_000), source(&set)).unwrap();
    let e = nhi.deliver("cut", &kokuho("加入")).await.unwrap_err();
    assert!(matches!(e, DeliveryError::Rejected { .. }), "{e}");
    assert!(e.to_string().contains("announces another size"), "{e}");
    assert!(sim.received().is_empty());
    sim.shutdown().await.unwrap();
}
