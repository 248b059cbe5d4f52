//! The counter's first flow: session, lookup, submission, delivery.

use renkei_conformance::population::HardCase;
use renkei_proto::v1 as pb;
use renkei_proto::v1::lookup_resident_request::Key;
use tonic::Code;

use crate::harness::{Harness, date, moving_notification, violations, wait_for_status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_by_basic_facts_returns_the_exact_ivs_name() {
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let expected = h.population.hard_case(HardCase::IvsName).unwrap();
    assert!(expected.name.family.has_variation_selectors());

    // Staff type the name without the selector (keyboards cannot enter IVS).
    let typed = format!("{} {}", expected.name.family.search_key(), expected.name.given);
    assert!(!typed.contains('\u{E0100}'));
    let found = counter
        .lookup_resident(pb::LookupResidentRequest {
            session_id: session_id.clone(),
            key: Some(Key::BasicFacts(pb::LookupByBasicFacts {
                name: typed,
                birth_date: date(1989, 1, 8),
                ..Default::default()
            })),
            include_household: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.residents.len(), 1);
    let resident = &found.residents[0];
    let name = resident.name.as_ref().unwrap();
    assert_eq!(name.family, expected.name.family.as_str(), "exact code points, selector included");
    assert_eq!(name.family.chars().filter(|c| *c == '\u{E0100}').count(), 1);
    assert_eq!(resident.atena_number, expected.atena_number.as_str());
    assert_eq!(resident.birth_date.as_ref().unwrap().wareki, "平成元年1月8日");
    let household = found.household.expect("household asked for");
    assert_eq!(household.household_number, expected.household_number.as_str());
    assert!(household.members.iter().any(|m| m.atena_number == resident.atena_number));
    assert_eq!(household.members[0].relationship, "世帯主");

    // Every resident shown was written to the access log, by 宛名番号.
    let log = h.access_log(&session_id).await;
    let reads: Vec<_> = log.iter().filter(|e| e.action == "read_resident").collect();
    assert_eq!(reads.len(), 1 + household.members.len());
    assert!(reads.iter().all(|e| e.staff_id.as_deref() == Some("staff-042")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_errors_name_the_field_and_rule() {
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let lookup = |key| pb::LookupResidentRequest {
        session_id: session_id.clone(),
        key: Some(key),
        include_household: false,
    };

    // A well-formed 宛名番号 nobody has.
    let nobody = renkei_model::AtenaNumber::from_serial(987_654_321, 10).unwrap();
    let e = counter.lookup_resident(lookup(Key::AtenaNumber(nobody.to_string()))).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");

    // A broken check digit.
    let e = counter.lookup_resident(lookup(Key::AtenaNumber("0000000018".into()))).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(e.message(), "atena_number: check digit does not match");
    assert_eq!(violations(&e), [("atena_number".to_owned(), "check digit does not match".to_owned())]);

    // Basic facts without a birth date, and with an unknown sex code: both reported.
    let e = counter
        .lookup_resident(lookup(Key::BasicFacts(pb::LookupByBasicFacts {
            name: "山田太郎".into(),
            birth_date: None,
            sex: 7,
            address: String::new(),
        })))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let fields: Vec<String> = violations(&e).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["basic_facts.birth_date", "basic_facts.sex"]);
    assert!(e.message().contains("basic_facts.birth_date: is required"), "{}", e.message());

    // No key at all; an unknown session.
    let e = counter
        .lookup_resident(pb::LookupResidentRequest {
            session_id: session_id.clone(),
            key: None,
            include_household: false,
        })
        .await
        .unwrap_err();
    assert_eq!((e.code(), violations(&e)[0].0.as_str()), (Code::InvalidArgument, "key"));
    let e = counter
        .lookup_resident(pb::LookupResidentRequest {
            session_id: "no-such-session".into(),
            key: Some(Key::AtenaNumber(nobody.to_string())),
            include_household: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().starts_with("session_id:"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn individual_numbers_find_residents_and_never_come_back() {
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let person = h.population.hard_case(HardCase::ForeignWithAlias).unwrap();
    let number = person.individual_number.as_ref().unwrap().expose().to_owned();

    let found = counter
        .lookup_resident(pb::LookupResidentRequest {
            session_id: session_id.clone(),
            key: Some(Key::IndividualNumber(number.clone())),
            include_household: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.residents[0].atena_number, person.atena_number.as_str());
    let alias = found.residents[0].name.as_ref().unwrap().alias.as_ref().unwrap();
    assert_eq!(alias.name, person.name.alias.as_ref().unwrap().name.as_str());
    assert!(!format!("{found:?}").contains(&number), "the response must not carry the number");

    // A mistyped number is refused without being echoed.
    let mut wrong = number.clone();
    let last = wrong.pop().unwrap().to_digit(10).unwrap();
    wrong.push(char::from_digit((last + 1) % 10, 10).unwrap());
    let e = counter
        .lookup_resident(pb::LookupResidentRequest {
            session_id,
            key: Some(Key::IndividualNumber(wrong.clone())),
            include_household: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(e.message(), "individual_number: check digit does not match");
    assert!(!format!("{e:?}").contains(&wrong[..11]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moving_notification_reaches_the_resident_record_exactly_once() {
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let mover = h.population.hard_case(HardCase::SakiVariant).unwrap();
    let request = pb::SubmitApplicationsRequest {
        session_id: session_id.clone(),
        idempotency_key: "visit-1/submit-1".into(),
        applications: vec![moving_notification(mover.atena_number.as_str())],
    };

    let first = counter.submit_applications(request.clone()).await.unwrap().into_inner();
    assert!(!first.replayed);
    assert_eq!(first.applications.len(), 1);
    let submitted = &first.applications[0];
    assert_eq!(submitted.target_system, "resident-record");
    assert_eq!(submitted.status, pb::ApplicationStatus::Submitted as i32);

    let delivered = wait_for_status(
        &mut counter,
        &session_id,
        &submitted.application_id,
        pb::ApplicationStatus::Delivered,
    )
    .await;
    assert!(delivered.receipt.starts_with('R'), "{delivered:?}");

    // A watcher arriving after the fact reads the delivery as it stands, receipt and all.
    let late = wait_for_status(
        &mut counter,
        &session_id,
        &submitted.application_id,
        pb::ApplicationStatus::Delivered,
    )
    .await;
    assert_eq!((late.receipt.as_str(), late.attempts), (delivered.receipt.as_str(), 1));
    // The outcome is in the session's access log, without the system's words.
    let outcomes: Vec<String> = h
        .access_log(&session_id)
        .await
        .into_iter()
        .filter(|e| e.action == "delivery")
        .filter_map(|e| e.detail)
        .collect();
    assert_eq!(
        outcomes,
        [format!("application {} to resident-record: delivered (attempt 1)", submitted.application_id)]
    );

    // The client retries the same call (say, after a timeout): nothing new is committed.
    let again = counter.submit_applications(request.clone()).await.unwrap().into_inner();
    assert!(again.replayed);
    assert_eq!(again.applications[0].application_id, submitted.application_id);

    let received = h.simulator.received_todoke();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].times_sent, 1);
    assert_eq!(received[0].uketsuke_no, delivered.receipt);
    assert_eq!(received[0].todoke.kind, renkei_model::LifeEvent::MoveWithin);
    assert_eq!(received[0].todoke.subjects, std::slice::from_ref(&mover.atena_number));
    let new_address = received[0].todoke.new_address.as_ref().unwrap();
    assert_eq!(new_address.banchi.as_str(), "4番1号");
    // The simulator applied it: the resident record now has the new address.
    let now = h.simulator.resident(&mover.atena_number).unwrap();
    assert_eq!(now.address.unwrap().town.as_str(), "桜町二丁目");

    // The same key with a different body is refused, not silently replayed.
    let mut changed = request;
    changed.applications[0].fields.get_mut("new_address.banchi").unwrap().value = "5番1号".into();
    let e = counter.submit_applications(changed).await.unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_missing_a_required_field_is_refused_by_name() {
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let mover = h.population.hard_case(HardCase::SakiVariant).unwrap();
    let mut incomplete = moving_notification(mover.atena_number.as_str());
    incomplete.fields.remove("new_address.banchi");
    let mut unknown = moving_notification(mover.atena_number.as_str());
    unknown.procedure_id = "no.such.procedure".into();

    let e = counter
        .submit_applications(pb::SubmitApplicationsRequest {
            session_id,
            idempotency_key: "k".into(),
            applications: vec![incomplete, unknown],
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let fields: Vec<String> = violations(&e).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["applications[0].fields.new_address.banchi", "applications[1].procedure_id"]);
    assert!(h.simulator.received_todoke().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_visit_stays_on_the_server_and_the_server_records_provenance() {
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let taro = h.population.hard_case(HardCase::IvsName).unwrap();
    let atena = taro.atena_number.to_string();

    // Staff find the resident once; every later step refers to the session.
    let found = counter
        .lookup_resident(pb::LookupResidentRequest {
            session_id: session_id.clone(),
            key: Some(Key::AtenaNumber(atena.clone())),
            include_household: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.household.unwrap().members.len(), 4);
    let plan = counter
        .plan_procedures(pb::PlanProceduresRequest {
            session_id: session_id.clone(),
            life_event: pb::LifeEvent::MoveWithin as i32,
            atena_number: String::new(),
            answers: Default::default(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(plan.procedures.iter().any(|p| p.procedure_id == "jumin.idou"), "{plan:?}");
    let form = counter
        .prefill_applications(pb::PrefillApplicationsRequest {
            session_id: session_id.clone(),
            procedure_ids: vec!["jumin.idou".into()],
            applicant_atena_number: String::new(),
            life_event: pb::LifeEvent::MoveWithin as i32,
            answers: Default::default(),
            subject_atena_number: String::new(),
            evidence: None,
        })
        .await
        .unwrap()
        .into_inner()
        .forms
        .remove(0);
    let prefilled_name = form.fields["todokede.name"].clone();
    assert_eq!(prefilled_name.provenance, pb::Provenance::ResidentRecord as i32);

    // The client sends only what staff keyed in or changed — and claims a provenance for it,
    // which the server does not take.
    let keyed = |v: &str| pb::FieldValue { value: v.into(), provenance: pb::Provenance::Card as i32 };
    let draft = pb::ApplicationDraft {
        procedure_id: "jumin.idou".into(),
        applicant_atena_number: String::new(),
        subject_atena_numbers: Vec::new(),
        life_event: pb::LifeEvent::Unspecified as i32,
        fields: [
            ("event_date", keyed("2026-11-20")),
            ("new_address.prefecture", keyed("神奈川県")),
            ("new_address.municipality", keyed("横浜市鶴見区")),
            ("new_address.local_government_code", keyed("141011")),
            ("new_address.town", keyed("桜町二丁目")),
            ("new_address.banchi", keyed("4番1号")),
            // Sent back unchanged: keeps the resident record as its source.
            ("todokede.name", pb::FieldValue { value: prefilled_name.value.clone(), provenance: 0 }),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    };
    let submitted = counter
        .submit_applications(pb::SubmitApplicationsRequest {
            session_id: session_id.clone(),
            idempotency_key: "visit-on-server".into(),
            applications: vec![draft],
        })
        .await
        .unwrap()
        .into_inner();
    let id = submitted.applications[0].application_id.clone();
    wait_for_status(&mut counter, &session_id, &id, pb::ApplicationStatus::Delivered).await;

    let app = h.committed(&id).await.expect("committed");
    assert_eq!(app.applicant, taro.atena_number, "the applicant from the visit");
    assert_eq!(app.life_event, Some(renkei_model::LifeEvent::MoveWithin), "the event from the prefill");
    assert_eq!(app.subjects, std::slice::from_ref(&taro.atena_number), "the subjects from the prefill");
    use renkei_model::Provenance;
    assert_eq!(
        app.fields["new_address.banchi"].provenance,
        Provenance::Staff,
        "keyed: staff's, not the card"
    );
    assert_eq!(app.fields["todokede.name"].provenance, Provenance::ResidentRecord);
    assert_eq!(app.fields["subjects.names"].provenance, Provenance::ResidentRecord, "not sent back, kept");

    // One read of the resident and one of the household for the whole visit.
    assert_eq!(h.simulator.requests("GET /api/v1/atena/{atena_no}"), 1);
    assert_eq!(h.simulator.requests("GET /api/v1/setai/{setai_no}"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_facts_a_client_claims_are_for_staff_to_confirm_not_high_assurance() {
    use pb::submit_evidence_request::Evidence;
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let taro = h.population.hard_case(HardCase::IvsName).unwrap();
    let claimed = pb::CardEvidence {
        card: pb::CardKind::DriversLicense as i32,
        facts: Some(pb::BasicFacts {
            name: taro.name.full().to_string(),
            birth_date: date(1989, 1, 8),
            sex: pb::Sex::Male as i32,
            ..Default::default()
        }),
    };
    let answer = counter
        .submit_evidence(pb::SubmitEvidenceRequest {
            session_id: session_id.clone(),
            evidence: Some(Evidence::Card(claimed)),
        })
        .await
        .unwrap()
        .into_inner();
    let identity = answer.identity.unwrap();
    assert_eq!(identity.channel, "card");
    assert_eq!(identity.assurance, pb::AssuranceLevel::Low as i32, "no chip was read here");
    assert_eq!(identity.needs_confirmation, ["facts.name", "facts.birth_date", "facts.sex"]);
    assert_eq!(answer.candidates.len(), 1);

    // The prefill takes the evidence the server judged: the kind of card is the one presented.
    let visit = h.gateway.state().visit(&session_id).await.unwrap();
    let evidence = visit.evidence.unwrap();
    assert_eq!(
        evidence.source,
        renkei_model::EvidenceSource::Card { card: renkei_model::CardKind::DriversLicense }
    );
    assert_eq!(evidence.assurance, renkei_model::AssuranceLevel::Low);
}

/// A session's event channel lives while someone watches it: watchers that go away (or a
/// session that closes) leave nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_that_leave_free_their_sessions_event_channels() {
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let events = &h.gateway.state().events;
    let mut streams = Vec::new();
    let mut sessions = Vec::new();
    for _ in 0..50 {
        let id = h.open_session(&mut counter).await;
        // Two watchers of the same session share one channel.
        for _ in 0..2 {
            let stream =
                counter.watch_session(pb::WatchSessionRequest { session_id: id.clone() }).await.unwrap();
            streams.push(stream.into_inner());
        }
        sessions.push(id);
    }
    assert_eq!(events.watched(), 50);

    // One of each pair leaves: the channels stay for the other.
    let mut kept = Vec::new();
    for (i, stream) in streams.into_iter().enumerate() {
        if i % 2 == 0 {
            kept.push(stream);
        }
    }
    let settle = || tokio::time::sleep(std::time::Duration::from_millis(300));
    settle().await;
    assert_eq!(events.watched(), 50);

    // The rest leave, except one whose session is closed instead.
    let last = kept.pop().unwrap();
    drop(kept);
    settle().await;
    assert_eq!(events.watched(), 1);
    counter.close_session(pb::CloseSessionRequest { session_id: sessions[49].clone() }).await.unwrap();
    assert_eq!(events.watched(), 0);
    drop(last);
}
