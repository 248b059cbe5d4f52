//! The API's limits, through tonic's client: strings and lists bounded in every request, only a
//! form's own fields, an individual number only where a form declares one, and errors that name
//! the field and the rule without echoing what was sent.

use renkei_conformance::population::HardCase;
use renkei_proto::v1 as pb;
use tonic::Code;

use crate::harness::{Harness, moving_notification, violations};

fn submit(session_id: &str, applications: Vec<pb::ApplicationDraft>) -> pb::SubmitApplicationsRequest {
    pb::SubmitApplicationsRequest {
        session_id: session_id.into(),
        idempotency_key: "limits-1".into(),
        applications,
    }
}

fn staff_value(value: &str) -> pb::FieldValue {
    pb::FieldValue { value: value.into(), provenance: pb::Provenance::Staff as i32 }
}

/// An error a client may show: short, on one line, and without the value it refuses.
fn assert_shows_no_input(e: &tonic::Status, input: &str) {
    assert!(e.message().len() < 400, "a {}-byte message", e.message().len());
    assert!(!e.message().chars().any(char::is_control), "control characters in {:?}", e.message());
    assert!(!e.message().contains(input), "the message echoes the input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_value_or_list_is_refused_by_field_path_without_echoing_it() {
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let mover = h.population.hard_case(HardCase::SakiVariant).unwrap();
    let atena = mover.atena_number.as_str();

    // A 3.9 MB field value: INVALID_ARGUMENT naming the field, not RESOURCE_EXHAUSTED, not the value.
    let huge = "桜".repeat(1_300_000);
    let mut draft = moving_notification(atena);
    draft.fields.insert("new_address.katagaki".into(), staff_value(&huge));
    let e = counter.submit_applications(submit(&session_id, vec![draft])).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{}", e.message());
    assert_eq!(
        violations(&e),
        [("applications[0].fields.new_address.katagaki.value".to_owned(), "at most 1024 bytes".to_owned())]
    );
    assert_shows_no_input(&e, "桜桜桜");

    // 10,000 subjects.
    let mut draft = moving_notification(atena);
    draft.subject_atena_numbers = vec![atena.to_owned(); 10_000];
    let e = counter.submit_applications(submit(&session_id, vec![draft])).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&e),
        [("applications[0].subject_atena_numbers".to_owned(), "at most 100 items".to_owned())]
    );

    // 5,000 field names, one of them long and full of terminal escapes.
    let mut draft = moving_notification(atena);
    let hostile = format!("\u{1b}[2J\n{}", "x".repeat(2000));
    draft.fields.insert(hostile.clone(), staff_value("1"));
    for i in 0..5000 {
        draft.fields.insert(format!("extra_{i}"), staff_value("1"));
    }
    let e = counter.submit_applications(submit(&session_id, vec![draft])).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let found = violations(&e);
    assert!(
        found.contains(&("applications[0].fields".to_owned(), "at most 100 entries".to_owned())),
        "{found:?}"
    );
    assert_shows_no_input(&e, &"x".repeat(100));

    // Nothing of it reached the resident record.
    assert!(h.simulator.received_todoke().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limits_are_the_configured_ones() {
    let h = Harness::start_with(|c| {
        c.server.limits.string_bytes = 4096;
        c.server.limits.list_items = 3;
    })
    .await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let mover = h.population.hard_case(HardCase::SakiVariant).unwrap();
    let mut draft = moving_notification(mover.atena_number.as_str());
    draft.subject_atena_numbers = vec![mover.atena_number.to_string(); 4];
    // 2,000 bytes: over the default bound, within this one.
    draft.fields.insert("new_address.katagaki".into(), staff_value(&"a".repeat(2000)));
    let e = counter.submit_applications(submit(&session_id, vec![draft])).await.unwrap_err();
    assert_eq!(
        violations(&e),
        [
            ("applications[0].subject_atena_numbers".to_owned(), "at most 3 items".to_owned()),
            ("applications[0].fields".to_owned(), "at most 3 entries".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_the_form_does_not_declare_and_an_individual_number_out_of_place_are_refused() {
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let session_id = h.open_session(&mut counter).await;
    let mover = h.population.hard_case(HardCase::SakiVariant).unwrap();
    let number = h
        .population
        .residents()
        .find_map(|r| r.individual_number.as_ref())
        .expect("the population has individual numbers")
        .expose()
        .to_owned();

    let mut undeclared = moving_notification(mover.atena_number.as_str());
    undeclared.fields.insert("favourite_colour".into(), staff_value("blue"));
    let mut number_in_katagaki = moving_notification(mover.atena_number.as_str());
    // Written as staff might key it: full-width, in groups of four.
    let spaced: String = number
        .chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let wide = char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap();
            (i > 0 && i % 4 == 0).then_some('－').into_iter().chain([wide])
        })
        .collect();
    number_in_katagaki.fields.insert("new_address.katagaki".into(), staff_value(&format!("メモ {spaced}")));

    let e = counter
        .submit_applications(submit(&session_id, vec![undeclared, number_in_katagaki]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&e),
        [
            (
                "applications[0].fields.favourite_colour".to_owned(),
                "is not a field of the procedure's form".to_owned()
            ),
            (
                "applications[1].fields.new_address.katagaki".to_owned(),
                "reads as an individual number, which only a field declared for one may hold".to_owned()
            ),
        ]
    );
    assert_shows_no_input(&e, &number);
    assert_shows_no_input(&e, &spaced);
    assert!(h.simulator.received_todoke().is_empty());
}
