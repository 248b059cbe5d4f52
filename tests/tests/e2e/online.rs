//! Online applications through AdminService.SubmitOnlineApplications: a file of application XML
//! becomes committed applications in the backyard work queue, refusals come back with their
//! positions, and the same file sent again is answered with its first commit.

use renkei_proto::v1 as pb;
use tonic::Code;

use crate::harness::{Harness, queued_work_items};

const SAMPLE: &str = include_str!("../../../adapters/intake/testdata/shinsei.xml");

fn request(name: &str, document: &str) -> pb::SubmitOnlineApplicationsRequest {
    pb::SubmitOnlineApplicationsRequest {
        source_name: name.into(),
        document: document.as_bytes().to_vec(),
        mapping_id: String::new(),
    }
}

#[tokio::test]
async fn an_online_file_enters_the_work_queue_once_and_refusals_say_where() {
    let h = Harness::start().await;
    let mut admin = h.admin().await;

    // The first application has an element the mapping does not know: it alone is refused.
    let broken = SAMPLE.replace("<Nenkin>", "<Bikou>至急</Bikou><Nenkin>");
    let answer =
        admin.submit_online_applications(request("shinsei-0410.xml", &broken)).await.unwrap().into_inner();
    assert!(answer.complete && !answer.replayed);
    assert_eq!(answer.refused.len(), 1, "{:?}", answer.refused);
    let r = &answer.refused[0];
    assert_eq!(
        (r.kind.as_str(), r.record, r.line, r.column, r.field.as_str()),
        ("unknown_element", 1, 15, 7, "ShinseiData/JidouTeate/Bikou")
    );
    let [hoiku] = &answer.applications[..] else { panic!("{:?}", answer.applications) };
    assert_eq!(hoiku.procedure_id, "hoiku.moushikomi");
    assert_eq!(hoiku.status, pb::ApplicationStatus::Submitted as i32);

    // The whole file under another name: both applications, each in its department's queue.
    let answer =
        admin.submit_online_applications(request("shinsei-0411.xml", SAMPLE)).await.unwrap().into_inner();
    assert_eq!((answer.refused.len(), answer.applications.len()), (0, 2));
    let queued = queued_work_items(&mut admin, "こども家庭支援課").await;
    assert_eq!(queued.len(), 3);
    let jidou = queued.iter().find(|w| w.procedure_id == "jidou.teate").unwrap();
    assert!(jidou.session_id.starts_with("online-"), "a session of the file's own: {}", jidou.session_id);
    assert_eq!(jidou.application_id, answer.applications[0].application_id);
    assert!(jidou.application_json.contains("\"provenance\":\"online\""), "{}", jidou.application_json);

    // Sent again: the first commit, nothing new.
    let again =
        admin.submit_online_applications(request("shinsei-0411.xml", SAMPLE)).await.unwrap().into_inner();
    assert!(again.replayed);
    assert_eq!(again.applications, answer.applications);
    // The same name with other content is refused.
    let e = admin.submit_online_applications(request("shinsei-0411.xml", &broken)).await.unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
    // Another intake principal's file of that name is its own: nobody spends another's key.
    let auth = &h.gateway.state().auth;
    auth.add_user("online-2", "オンライン受付", &["オンライン受付".into()], "a test passphrase")
        .await
        .unwrap();
    let mut other =
        renkei_proto::v1::admin_service_client::AdminServiceClient::new(h.channel_as("online-2").await);
    let theirs =
        other.submit_online_applications(request("shinsei-0411.xml", &broken)).await.unwrap().into_inner();
    assert!(!theirs.replayed && theirs.applications.len() == 1, "{theirs:?}");

    // Malformed XML: the applications before it are committed, the answer says where it stopped.
    let truncated = &SAMPLE[..SAMPLE.find("<HoikuJiyu>").unwrap()];
    let answer =
        admin.submit_online_applications(request("shinsei-0412.xml", truncated)).await.unwrap().into_inner();
    assert!(!answer.complete);
    assert_eq!(answer.applications.len(), 1);
    assert_eq!((answer.refused[0].kind.as_str(), answer.refused[0].record), ("malformed", 2));

    // A mapping that is not an XML layout of applications is refused as an argument.
    let mut wrong = request("x.xml", SAMPLE);
    wrong.mapping_id = "nhi/member@1".into();
    let e = admin.submit_online_applications(wrong).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("not an XML layout of applications"), "{}", e.message());
}

#[tokio::test]
async fn files_over_the_configured_limit_are_refused() {
    let h = Harness::start_with(|c| c.intake.online.max_record_bytes = 300).await;
    let mut admin = h.admin().await;
    let answer = admin.submit_online_applications(request("big.xml", SAMPLE)).await.unwrap().into_inner();
    assert!(answer.applications.is_empty());
    assert_eq!((answer.refused[0].kind.as_str(), answer.refused[0].record), ("too_large", 1));

    let h = Harness::start_with(|c| c.intake.online.max_file_bytes = 100).await;
    let mut admin = h.admin().await;
    let e = admin.submit_online_applications(request("big.xml", SAMPLE)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("at most 100 are accepted"), "{}", e.message());
}
