//! Who may call what, through a real client: every RPC with no token, an expired one, one of a
//! group without the permission and one with it; sessions that belong to their opener; the work
//! queue by department; and the permission table checked against what reflection serves.

use std::collections::BTreeSet;

use prost::Message;
use renkei_auth::permissions::{self, Access};
use renkei_auth::{Groups, Permission};
use renkei_proto::v1 as pb;
use renkei_proto::v1::admin_service_client::AdminServiceClient;
use renkei_proto::v1::auth_service_client::AuthServiceClient;
use renkei_proto::v1::counter_service_client::CounterServiceClient;
use renkei_proto::{Authorized, Bearer};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::harness::{COLLEAGUE, Harness, STAFF, SUPERVISOR};

/// Every method the gateway serves, from its reflection service: (path, server-streaming).
async fn served_methods(channel: Channel) -> Vec<(String, bool)> {
    let mut client = ServerReflectionClient::new(channel);
    let ask = |m: MessageRequest| ServerReflectionRequest { host: String::new(), message_request: Some(m) };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([ask(MessageRequest::ListServices(String::new()))]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        answers.next().await.unwrap().unwrap().message_response
    else {
        panic!("reflection did not list the services")
    };
    let mut methods = BTreeSet::new();
    for service in list.service {
        let mut answers = client
            .server_reflection_info(tokio_stream::iter([ask(MessageRequest::FileContainingSymbol(
                service.name.clone(),
            ))]))
            .await
            .unwrap()
            .into_inner();
        let Some(MessageResponse::FileDescriptorResponse(files)) =
            answers.next().await.unwrap().unwrap().message_response
        else {
            panic!("no descriptor for {}", service.name)
        };
        for bytes in files.file_descriptor_proto {
            let file = prost_types::FileDescriptorProto::decode(bytes.as_slice()).unwrap();
            for s in &file.service {
                if format!("{}.{}", file.package(), s.name()) != service.name {
                    continue;
                }
                for m in &s.method {
                    methods.insert((format!("/{}/{}", service.name, m.name()), m.server_streaming()));
                }
            }
        }
    }
    methods.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_served_method_has_a_permission_entry() {
    let h = Harness::start().await;
    let methods = served_methods(h.plain_channel().await).await;
    assert!(methods.len() > 25, "{methods:?}");
    let unguarded: Vec<&String> =
        methods.iter().map(|(p, _)| p).filter(|p| permissions::access_for(p).is_none()).collect();
    assert!(unguarded.is_empty(), "no permission entry: {unguarded:?}");
    assert!(methods.iter().any(|(p, _)| p == "/renkei.v1.AuthService/Login"));
    h.gateway.shutdown().await.unwrap();
}

/// The status of calling `path` with an empty request through `channel`, however the call then
/// ends: an empty message is a valid request of every proto3 type.
async fn call(channel: Authorized, path: &str, streaming: bool) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let path: http::uri::PathAndQuery = path.parse().unwrap();
    let result = if streaming {
        grpc.server_streaming(tonic::Request::new(()), path, codec).await.map(|_| ())
    } else {
        grpc.unary(tonic::Request::new(()), path, codec).await.map(|_| ())
    };
    result.err().unwrap_or_else(|| tonic::Status::ok(""))
}

/// A token for `user` under the gateway's key, already expired, made with jsonwebtoken here.
fn expired_token(h: &Harness, user: &str) -> String {
    let key = std::fs::read(h.data_dir().join("token.key")).unwrap();
    let now = chrono_now();
    let claims = serde_json::json!({
        "iss": "renkei", "aud": "renkei", "sub": user, "name": "x", "groups": ["窓口職員"],
        "sid": "expired", "iat": now - 7200, "exp": now - 3600,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(String::from_utf8(key).unwrap().trim().as_bytes()),
    )
    .unwrap()
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_wants_a_token_and_its_permission() {
    let h = Harness::start().await;
    let auth = &h.gateway.state().auth;
    let groups = Groups::embedded();
    // One user per default group, to find for each permission a group without it and one with it.
    for g in groups.iter() {
        let id = format!("u-{}", g.permissions.iter().next().unwrap().as_str().replace('.', "-"));
        let id = format!("{id}-{}", g.name.len());
        auth.add_user(&id, "試験", std::slice::from_ref(&g.name), "a test passphrase").await.unwrap();
    }
    let users = auth.users().await.unwrap();
    let with = |p: Permission, has: bool| {
        users
            .iter()
            .find(|u| {
                u.group_names()
                    .iter()
                    .all(|g| groups.get(g).is_some_and(|g| g.permissions.contains(&p) == has))
            })
            .map(|u| u.id.clone())
            .unwrap_or_else(|| panic!("no test user {} {p}", if has { "with" } else { "without" }))
    };
    let plain = h.plain_channel().await;
    let none = Bearer::new("not-a-token").unwrap().on(plain.clone());
    let expired = Bearer::new(&expired_token(&h, STAFF)).unwrap().on(plain.clone());
    let mut checked = 0;
    for (path, streaming) in served_methods(plain.clone()).await {
        let access = permissions::access_for(&path).unwrap();
        if access == Access::Public {
            continue;
        }
        let s = call(none.clone(), &path, streaming).await;
        assert_eq!(s.code(), Code::Unauthenticated, "{path} with a bad token: {s:?}");
        let s = call(expired.clone(), &path, streaming).await;
        assert_eq!(s.code(), Code::Unauthenticated, "{path} with an expired token: {s:?}");
        assert!(s.message().contains("expired"), "{path}: {}", s.message());
        let Access::Requires(permission) = access else { continue };
        let s = call(h.channel_as(&with(permission, false)).await, &path, streaming).await;
        assert_eq!(s.code(), Code::PermissionDenied, "{path} without {permission}: {s:?}");
        assert!(s.message().contains(permission.as_str()), "{path}: {}", s.message());
        let s = call(h.channel_as(&with(permission, true)).await, &path, streaming).await;
        assert!(
            !matches!(s.code(), Code::Unauthenticated | Code::PermissionDenied | Code::Unimplemented),
            "{path} with {permission}: {s:?}"
        );
        checked += 1;
    }
    let guarded = permissions::RPCS.iter().filter(|(_, a)| matches!(a, Access::Requires(_))).count();
    assert_eq!(checked, guarded, "every RPC that needs a permission was called");
    // No token at all.
    let mut counter = CounterServiceClient::new(plain.clone());
    let e = counter.open_session(pb::OpenSessionRequest { counter_id: "w".into() }).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("AuthService.Login"), "{}", e.message());
    h.gateway.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refresh_logout_over_grpc() {
    let h = Harness::start().await;
    let mut auth = AuthServiceClient::new(h.plain_channel().await);
    let login = |password: &str| pb::LoginRequest { user_id: STAFF.into(), password: password.into() };
    let e = auth.login(login("wrong password!")).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let tokens = auth.login(login("a test passphrase")).await.unwrap().into_inner();
    assert!(tokens.permissions.contains(&"application.submit".to_owned()), "{:?}", tokens.permissions);
    let bearer = Bearer::new(&tokens.access_token).unwrap();
    let mut counter = CounterServiceClient::new(bearer.clone().on(h.plain_channel().await));
    let session =
        counter.open_session(pb::OpenSessionRequest { counter_id: "w".into() }).await.unwrap().into_inner();
    assert_eq!(session.staff_id, STAFF, "the staff member is the token's user, not a request field");

    let renewed = auth
        .refresh(pb::RefreshRequest { refresh_token: tokens.refresh_token.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(renewed.refresh_token, tokens.refresh_token);
    let mut own =
        AuthServiceClient::new(Bearer::new(&renewed.access_token).unwrap().on(h.plain_channel().await));
    own.logout(pb::LogoutRequest {}).await.unwrap();
    let e = own.logout(pb::LogoutRequest {}).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "the access token ended with its login");
    let e = auth.refresh(pb::RefreshRequest { refresh_token: renewed.refresh_token }).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    h.gateway.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_belongs_to_its_opener_and_ends() {
    let h = Harness::start().await;
    let mut mine = h.counter().await;
    let session = h.open_session(&mut mine).await;
    let atena = h.population.residents().next().unwrap().atena_number.to_string();
    let lookup = |s: &str| pb::LookupResidentRequest {
        session_id: s.into(),
        key: Some(pb::lookup_resident_request::Key::AtenaNumber(atena.clone())),
        include_household: false,
    };
    mine.lookup_resident(lookup(&session)).await.unwrap();

    // A colleague cannot use it; a supervisor may take it over, and the takeover is logged.
    let mut colleague = CounterServiceClient::new(h.channel_as(COLLEAGUE).await);
    let e = colleague.lookup_resident(lookup(&session)).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(e.message().contains("session.take_over"), "{}", e.message());
    let mut supervisor = CounterServiceClient::new(h.channel_as(SUPERVISOR).await);
    supervisor.lookup_resident(lookup(&session)).await.unwrap();
    let log = h.access_log(&session).await;
    let takeover =
        log.iter().find(|e| e.action == "take_over_session").expect("the takeover is in the access log");
    assert_eq!((takeover.staff_id.as_deref(), takeover.detail.as_deref()), (Some(SUPERVISOR), Some(STAFF)));
    let lookups: Vec<&str> =
        log.iter().filter(|e| e.action == "read_resident").filter_map(|e| e.staff_id.as_deref()).collect();
    assert_eq!(lookups, [STAFF, SUPERVISOR], "the access log names who acted");

    // Closed: nobody can use it any more.
    mine.close_session(pb::CloseSessionRequest { session_id: session.clone() }).await.unwrap();
    let e = mine.lookup_resident(lookup(&session)).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // Unused for longer than [auth].session_idle_s: ended on its next use.
    let idle = h.open_session(&mut mine).await;
    let id = idle.clone();
    h.gateway.state().db.write(move |c| renkei_gateway::storage::SessionRow::touch(c, &id, 0)).await.unwrap();
    let e = mine.lookup_resident(lookup(&idle)).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("unused"), "{}", e.message());
    h.gateway.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receipt_code_does_not_carry_the_session() {
    let h = Harness::start().await;
    let mut counter = h.counter().await;
    let session = h.open_session(&mut counter).await;
    let id = session.clone();
    let row = h
        .gateway
        .state()
        .db
        .read(move |c| renkei_gateway::storage::SessionRow::find(c, &id))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !row.receipt_ref.is_empty()
            && !row.receipt_ref.contains(&session)
            && !session.contains(&row.receipt_ref)
    );
    h.gateway.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_work_queue_permission_limited_to_a_department_reaches_only_its_items() {
    let dir = tempfile::tempdir().unwrap();
    let groups = dir.path().join("groups.toml");
    let text = format!(
        "{}\n[groups.\"保険年金課審査\"]\npermissions = [\"workqueue.list\", \"workqueue.review\"]\ndepartments = [\"保険年金課\"]\n",
        renkei_auth::groups::DEFAULT
    );
    std::fs::write(&groups, text).unwrap();
    let h = Harness::start_with(|c| c.auth.groups = Some(groups.clone())).await;
    h.gateway
        .state()
        .auth
        .add_user("kokuho-01", "試験", &["保険年金課審査".into()], "a test passphrase")
        .await
        .unwrap();
    // Two pattern-1 applications from an online file, for こども家庭支援課's queue.
    let file = include_str!("../../../adapters/intake/testdata/shinsei.xml");
    let request = pb::SubmitOnlineApplicationsRequest {
        source_name: "shinsei.xml".into(),
        document: file.as_bytes().to_vec(),
        mapping_id: String::new(),
    };
    h.admin().await.submit_online_applications(request).await.unwrap();
    let item = crate::harness::queued_work_items(&mut h.admin().await, "こども家庭支援課").await.remove(0);

    let mut kokuho = AdminServiceClient::new(h.channel_as("kokuho-01").await);
    let listed = kokuho
        .list_work_items(pb::ListWorkItemsRequest { state: 0, department: String::new(), limit: 0 })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(listed.is_empty(), "another department's item was listed: {listed:?}");
    let e = kokuho
        .list_work_items(pb::ListWorkItemsRequest {
            state: 0,
            department: "こども家庭支援課".into(),
            limit: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = kokuho
        .claim_work_item(pb::ClaimWorkItemRequest {
            work_item_id: item.work_item_id.clone(),
            department: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");

    // A supervisor may list the queue but not read the applications in it.
    let mut supervisor = AdminServiceClient::new(h.channel_as(SUPERVISOR).await);
    let listed = supervisor
        .list_work_items(pb::ListWorkItemsRequest { state: 0, department: String::new(), limit: 0 })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(listed.len(), 2);
    assert!(
        listed.iter().all(|w| w.application_json.is_empty()),
        "the body went to a caller who may not review it"
    );
    // The reviewer sees it.
    let listed = h
        .admin()
        .await
        .list_work_items(pb::ListWorkItemsRequest { state: 0, department: String::new(), limit: 0 })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(listed.iter().all(|w| !w.application_json.is_empty()));
    h.gateway.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_has_a_rate_limit_of_their_own() {
    let h = Harness::start_with(|c| {
        c.auth.calls_per_second = 1;
        c.auth.calls_burst = 3;
    })
    .await;
    let open = pb::OpenSessionRequest { counter_id: "w".into() };
    let mut mine = h.counter().await;
    for _ in 0..3 {
        mine.open_session(open.clone()).await.unwrap();
    }
    let e = mine.open_session(open.clone()).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("calls_per_second"), "{}", e.message());
    // A colleague is not held up by it.
    CounterServiceClient::new(h.channel_as(COLLEAGUE).await).open_session(open).await.unwrap();
    h.gateway.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_in_the_access_log_and_the_chain_verifies() {
    use renkei_gateway::storage::audit::{self, Checkpointer, Search};
    let h = Harness::start().await;
    let mut colleague = AdminServiceClient::new(h.channel_as(COLLEAGUE).await);
    let e = colleague.reload_mappings(pb::ReloadMappingsRequest {}).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let mut counter = h.counter().await;
    h.open_session(&mut counter).await;

    let db = h.gateway.state().db.clone();
    let search = Search { action: Some("refused_call".into()), ..Search::default() };
    let refused =
        db.read(move |c| renkei_gateway::storage::AuditEntry::search(c, &search, 10)).await.unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].staff_id.as_deref(), Some(COLLEAGUE));
    assert_eq!(refused[0].detail.as_deref(), Some("/renkei.v1.AdminService/ReloadMappings PermissionDenied"));

    // The gateway's key signs the head; the chain checks under it.
    let signer = Checkpointer::load_or_create(&h.data_dir().join("audit.key")).unwrap();
    let key = signer.verifying_key();
    db.write(move |c| signer.checkpoint(c)).await.unwrap().expect("a checkpoint of the new head");
    let verified = db.read(move |c| audit::verify(c, &key, None, None)).await.unwrap().unwrap();
    assert!(verified.entries >= 2 && verified.checkpoints == 1, "{verified:?}");
    h.gateway.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_is_in_the_access_log_allowed_or_refused() {
    let h = Harness::start().await;
    let mut methods: Vec<(String, bool)> = served_methods(h.plain_channel().await)
        .await
        .into_iter()
        .filter(|(p, _)| p.starts_with("/renkei.v1."))
        .collect();
    // Logout last: it ends the token the others are called with.
    methods.sort_by_key(|(p, _)| p.ends_with("/Logout"));
    assert!(methods.len() > 20, "{methods:?}");
    let mut codes = Vec::new();
    for (path, streaming) in &methods {
        codes.push(call(h.channel().await, path, *streaming).await.code());
    }
    // Some were allowed and some refused, and the log has each one.
    assert!(codes.contains(&Code::PermissionDenied) || codes.contains(&Code::InvalidArgument), "{codes:?}");
    let log = h
        .gateway
        .state()
        .db
        .read(|c| renkei_gateway::storage::AuditEntry::search(c, &Default::default(), 100_000))
        .await
        .unwrap();
    for ((path, _), code) in methods.iter().zip(&codes) {
        let entry = log
            .iter()
            .find(|e| e.detail.as_deref().is_some_and(|d| d.starts_with(&format!("{path} "))))
            .unwrap_or_else(|| panic!("{path} ({code:?}) is not in the access log"));
        assert!(entry.action == "call" || entry.action == "refused_call", "{path}: {}", entry.action);
        if entry.action == "call" && !path.ends_with("/Login") && !path.ends_with("/Refresh") {
            assert_eq!(entry.staff_id.as_deref(), Some(STAFF), "{path}");
            assert!(
                entry.detail.as_deref().unwrap().ends_with(&format!("{code:?}")),
                "{path}: {:?}",
                entry.detail
            );
        }
    }
}
