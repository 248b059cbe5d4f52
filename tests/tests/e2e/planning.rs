//! Counter planning end to end: plan a life event, prefill the forms, submit, the backyard work
//! queue and its status back at the counter, the guide as PDF, and a procedure added as files.

use std::path::Path;
use std::time::Duration;

use renkei_conformance::population::HardCase;
use renkei_proto::v1 as pb;
use renkei_proto::v1::admin_service_client::AdminServiceClient;
use tonic::Code;

use crate::harness::{Harness, REVIEWER, STAFF, copy_dir, queued_work_items, violations};

fn answers(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const MOVE_IN_ANSWERS: [(&str, &str); 6] = [
    ("employee_insurance", "はい"),
    ("mynumber_card", "はい"),
    ("needs_daycare", "はい"),
    ("pregnant", "いいえ"),
    ("disability_handbook", "なし"),
    ("has_dog", "いいえ"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_prefill_submit_and_the_backyard_returns_it_to_the_counter() {
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let mut admin = h.admin().await;
    let session_id = h.open_session(&mut counter).await;
    // 葛󠄀西 太郎's family: two parents, a child of school age and a small child.
    let taro = h.population.hard_case(HardCase::IvsName).unwrap();
    let atena = taro.atena_number.to_string();

    let first = counter
        .plan_procedures(pb::PlanProceduresRequest {
            session_id: session_id.clone(),
            life_event: pb::LifeEvent::MoveIn as i32,
            atena_number: atena.clone(),
            answers: Default::default(),
        })
        .await
        .unwrap()
        .into_inner();
    let asked: Vec<&str> = first.questions.iter().map(|q| q.id.as_str()).collect();
    assert!(asked.contains(&"needs_daycare") && asked.contains(&"employee_insurance"), "{asked:?}");
    assert!(!first.procedures.iter().any(|p| p.procedure_id == "hoiku.moushikomi"));

    let plan = counter
        .plan_procedures(pb::PlanProceduresRequest {
            session_id: session_id.clone(),
            life_event: pb::LifeEvent::MoveIn as i32,
            atena_number: atena.clone(),
            answers: answers(&MOVE_IN_ANSWERS),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(plan.questions.is_empty(), "{:?}", plan.questions);
    let teate = plan.procedures.iter().find(|p| p.procedure_id == "jidou.teate").expect("児童手当 planned");
    assert_eq!(teate.pattern, 1);
    assert_eq!(teate.subject_atena_numbers.len(), 2, "both children");
    assert!(teate.reason.contains("葛\u{E0100}西"), "{}", teate.reason);
    let hoiku = plan.procedures.iter().find(|p| p.procedure_id == "hoiku.moushikomi").unwrap();
    assert_eq!((hoiku.pattern, hoiku.department.as_str()), (3, "こども家庭支援課"));
    assert!(!plan.procedures.iter().any(|p| p.procedure_id == "kokuho.idou"), "employee insurance: no NHI");

    // Prefill 児童手当 with the card's facts shown at the counter.
    let card = pb::IdentityEvidence {
        channel: "card".into(),
        assurance: pb::AssuranceLevel::High as i32,
        facts: Some(pb::BasicFacts {
            name: taro.name.full().to_string(),
            birth_date: Some(pb::CalendarDate { year: 1989, month: 1, day: 8, wareki: String::new() }),
            sex: pb::Sex::Male as i32,
            ..Default::default()
        }),
        needs_confirmation: vec![],
    };
    let forms = counter
        .prefill_applications(pb::PrefillApplicationsRequest {
            session_id: session_id.clone(),
            procedure_ids: vec!["jidou.teate".into()],
            applicant_atena_number: atena.clone(),
            life_event: pb::LifeEvent::MoveIn as i32,
            answers: answers(&MOVE_IN_ANSWERS),
            subject_atena_number: String::new(),
            evidence: Some(card),
        })
        .await
        .unwrap()
        .into_inner()
        .forms;
    let form = &forms[0];
    let field =
        |name: &str| form.fields.get(name).unwrap_or_else(|| panic!("{name} prefilled in {:?}", form.fields));
    assert_eq!(field("claimant.name").value, taro.name.full().as_str());
    assert_eq!(field("claimant.name").provenance, pb::Provenance::ResidentRecord as i32);
    assert_eq!(field("claimant.birth_date").value, "平成元年1月8日");
    assert!(field("children.names").value.contains("葛\u{E0100}西\u{3000}陽向（令和元年5月1日生）"));
    assert_eq!(field("children.count").value, "2");
    // The account holder is the claimant, in the resident record's kana.
    assert_eq!(field("bank.holder_kana").value, taro.name.full_kana().unwrap());
    assert_eq!(
        form.missing_fields,
        ["pension", "bank.code", "bank.branch", "bank.account_number", "event_date"]
    );
    assert_eq!(form.layout.len(), 18);

    // Submitting without the fields still missing is refused, naming them.
    let mut draft = pb::ApplicationDraft {
        procedure_id: "jidou.teate".into(),
        applicant_atena_number: atena.clone(),
        subject_atena_numbers: form.subject_atena_numbers.clone(),
        life_event: pb::LifeEvent::MoveIn as i32,
        fields: form.fields.clone(),
    };
    let submit = |draft: pb::ApplicationDraft, key: &str| pb::SubmitApplicationsRequest {
        session_id: session_id.clone(),
        idempotency_key: key.into(),
        applications: vec![draft],
    };
    let e = counter.submit_applications(submit(draft.clone(), "k1")).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let missing: Vec<String> = violations(&e).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        missing,
        [
            "applications[0].fields.pension",
            "applications[0].fields.bank.code",
            "applications[0].fields.bank.branch",
            "applications[0].fields.bank.account_number",
            "applications[0].fields.event_date",
        ]
    );
    for (name, value) in [
        ("pension", "厚生年金"),
        ("bank.code", "0138"),
        ("bank.branch", "100"),
        ("bank.account_number", "1234567"),
        ("event_date", "2026-05-20"),
    ] {
        draft.fields.insert(
            name.into(),
            pb::FieldValue { value: value.into(), provenance: pb::Provenance::Staff as i32 },
        );
    }
    let submitted = counter.submit_applications(submit(draft, "k2")).await.unwrap().into_inner();
    let app = &submitted.applications[0];
    assert_eq!(app.status, pb::ApplicationStatus::Submitted as i32);

    // Pattern 1: it waits in the backyard center's queue, not in the outbox.
    let queued = queued_work_items(&mut admin, "こども家庭支援課").await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].application_id, app.application_id);
    assert!(queued[0].application_json.contains("bank.account_number"));

    let mut events = counter
        .watch_session(pb::WatchSessionRequest { session_id: session_id.clone() })
        .await
        .unwrap()
        .into_inner();
    let claimed = admin
        .claim_work_item(pb::ClaimWorkItemRequest {
            work_item_id: String::new(),
            department: "こども家庭支援課".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((claimed.state, claimed.claimed_by.as_str()), (pb::WorkItemState::Claimed as i32, STAFF));
    // Someone else cannot take or complete it.
    let e = AdminServiceClient::new(h.channel_as(REVIEWER).await)
        .complete_work_item(pb::CompleteWorkItemRequest {
            work_item_id: claimed.work_item_id.clone(),
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    let e = admin
        .return_work_item(pb::ReturnWorkItemRequest {
            work_item_id: claimed.work_item_id.clone(),
            reason: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!((e.code(), violations(&e)[0].0.as_str()), (Code::InvalidArgument, "reason"));
    let returned = admin
        .return_work_item(pb::ReturnWorkItemRequest {
            work_item_id: claimed.work_item_id.clone(),
            reason: "口座名義が請求者と異なります".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(returned.state, pb::WorkItemState::Returned as i32);

    // The counter sees the item come back with the reason.
    let wait = async {
        while let Some(event) = events.message().await.unwrap() {
            if let Some(pb::session_event::Event::Work(w)) = event.event
                && w.state == "returned"
            {
                return w;
            }
        }
        panic!("the session's events ended")
    };
    let back = tokio::time::timeout(Duration::from_secs(10), wait).await.expect("within 10 s");
    assert_eq!(back.application_id, app.application_id);
    assert_eq!(back.status, pb::ApplicationStatus::Returned as i32);
    assert_eq!(back.reason, "口座名義が請求者と異なります");

    // The session's KPIs: one pattern-1 application, mostly prefilled, sent to the backyard and returned.
    let kpis = h
        .gateway
        .state()
        .db
        .read(|c| renkei_gateway::storage::kpi::sessions_between(c, 0, i64::MAX))
        .await
        .unwrap();
    let k = kpis.iter().find(|k| k.session_id == session_id).unwrap();
    assert_eq!((k.applications, k.per_pattern, k.backyard, k.returned), (1, [1, 0, 0, 0], 1, 1));
    // Ten prefilled (the spouse's 宛名番号 and the account holder's kana among them), five written
    // by staff (the pension and the account's bank, branch and number, the date).
    assert_eq!((k.fields_total, k.fields_total - k.fields_prefilled), (15, 5), "five written by staff");
    assert!(k.seconds_to_submit().unwrap() >= 0.0);
    assert!(k.csv_row().starts_with(&session_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_prints_the_exact_ivs_name() {
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let taro = h.population.hard_case(HardCase::IvsName).unwrap();
    let guide = counter
        .render_guide(pb::RenderGuideRequest {
            session_id,
            life_event: pb::LifeEvent::MoveIn as i32,
            atena_number: taro.atena_number.to_string(),
            answers: answers(&MOVE_IN_ANSWERS),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(guide.pdf.starts_with(b"%PDF-"));
    assert!(guide.missing_glyphs.is_empty(), "{:?}", guide.missing_glyphs);
    // The population writes 葛 with U+E0100 (Adobe-Japan1); IPAmj明朝 draws it with the plain 葛
    // and says so, and the text keeps the selector.
    assert_eq!(guide.plain_variation_sequences, ["U+845B U+E0100"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(&guide.file_name);
    std::fs::write(&path, &guide.pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-raw", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils; .ci/run installs it)");
    let text = String::from_utf8(out.stdout).unwrap();
    let name = format!("{} {} 様", taro.name.family, taro.name.given);
    assert!(text.contains(&name), "{name:?} in {text}");
    assert!(text.contains("児童手当 認定請求") && text.contains("保育所等 利用申込"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_procedure_and_rule_added_as_files_are_planned_without_rebuilding() {
    // The operator's copy of the default set, plus one procedure and one rule.
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mappings");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() && entry.file_name() != "src" {
            copy_dir(&entry.path(), &dir.path().join(entry.file_name()));
        }
    }
    std::fs::write(
        dir.path().join("procedures/jitensha.chusha.toml"),
        "id = \"jitensha.chusha\"\nname = \"自転車駐車場 定期利用申込\"\nseido = \"自転車駐車場\"\n\
         department = \"土木事務所\"\nacceptance = \"department\"\nprocessing = \"department\"\n\
         window = \"区土木事務所\"\ndocuments = [\"在学証明書（学生のとき）\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("routing/jitensha.toml"),
        "[[rules]]\nid = \"move_in.jitensha\"\nevents = [\"move_in\"]\nprocedure = \"jitensha.chusha\"\n\
         each = \"member\"\nwhen = \"member.age >= 13 && member.age <= 22\"\n\
         reason = \"{member.name} {member.age}歳 → 駅の自転車駐車場（希望する方）\"\n",
    )
    .unwrap();
    let mappings = dir.path().to_owned();
    let h = Harness::start_with(|c| c.mappings.dir = Some(mappings)).await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    // 大野 浩's household of ten has children of 13 to 22 (大翔 and 葵, among others).
    let head = h.population.hard_case(HardCase::HouseholdOfTen).unwrap();
    let plan = counter
        .plan_procedures(pb::PlanProceduresRequest {
            session_id,
            life_event: pb::LifeEvent::MoveIn as i32,
            atena_number: head.atena_number.to_string(),
            answers: Default::default(),
        })
        .await
        .unwrap()
        .into_inner();
    let added = plan
        .procedures
        .iter()
        .find(|p| p.procedure_id == "jitensha.chusha")
        .expect("the new procedure is planned");
    assert_eq!((added.pattern, added.window.as_str()), (4, "区土木事務所"));
    assert!(added.reason.contains("大野\u{3000}大翔"), "{}", added.reason);
    assert!(!added.subject_atena_numbers.is_empty());
}
