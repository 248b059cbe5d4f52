//! The conformance runner, renkei under test: each case is a visit at the counter driven through
//! the gateway's gRPC API (session, lookup, plan, prefill, what staff key in, submit, and the
//! backyard center completing pattern-1 work), then what each receiving system got is read back
//! from it and compared item by item with the case's expectations.
//!
//! The receivers are the simulators (`renkei simulate …`), each reached over HTTP at its
//! inspection path ([`crate::core_system::RECEIVED_PATH`], [`crate::change_sink::CHANGES_PATH`]);
//! what they hold was decoded by their own readers ([`crate::receiver`]).

pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use renkei_model::Resident;
use renkei_proto::v1 as pb;
use renkei_proto::v1::admin_service_client::AdminServiceClient;
use renkei_proto::v1::counter_service_client::CounterServiceClient;
use renkei_proto::{Authorized, Bearer};
use serde::Deserialize;
use tonic::transport::Channel;

use crate::population::{HardCase, Population};
use crate::receiver::{WireRecord, layouts};
use crate::suite::{Case, Expect, PerSubjects, Records, Suite};

/// Where the runner finds the gateway and the receivers.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://127.0.0.1:50051`.
    pub grpc: String,
    /// An access token of a user who may run a visit and review the work queue (groups 窓口職員
    /// and バックヤード審査).
    pub token: String,
    /// System name → the simulator's base URL (`http://127.0.0.1:PORT/api/v1`).
    pub receivers: BTreeMap<String, String>,
    /// The synthetic population the resident record serves (residents, seed).
    pub residents: usize,
    pub seed: u64,
    /// How long a case waits for its deliveries.
    pub timeout: Duration,
}

/// One difference between what a case expects and what a system got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `nhi/shikaku-shutoku`, or `(visit)` for a step at the counter.
    pub interface: String,
    /// 1-based record, where the difference is in one.
    pub record: Option<usize>,
    pub item: Option<String>,
    pub expected: String,
    pub received: String,
    pub what: String,
}

/// How a case ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub suite: String,
    pub file: String,
    pub case: Case,
    pub failures: Vec<Failure>,
    pub seconds: f64,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The interfaces the case covers, as reports group it (its first expectation's).
    pub fn interface(&self) -> String {
        self.case.expect.first().map_or_else(|| "(none)".to_owned(), Expect::interface_id)
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("gateway at {endpoint}: {reason}")]
    Gateway { endpoint: String, reason: String },
    #[error("receiver {system} at {endpoint}: {reason}")]
    Receiver { system: String, endpoint: String, reason: String },
}

/// Run every case of `suites` against `target`, `parallel` at a time, calling `progress` as
/// each ends. The outcomes come back in suite and case order.
pub async fn run(
    target: &Target,
    suites: &[Suite],
    parallel: usize,
    mut progress: impl FnMut(&Outcome),
) -> Result<Vec<Outcome>, RunError> {
    let channel = Channel::from_shared(target.grpc.clone())
        .map_err(|e| RunError::Gateway { endpoint: target.grpc.clone(), reason: e.to_string() })?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| RunError::Gateway {
            endpoint: target.grpc.clone(),
            reason: format!("cannot connect: {e}"),
        })?;
    let bearer = Bearer::new(&target.token).map_err(|e| RunError::Gateway {
        endpoint: target.grpc.clone(),
        reason: format!("the access token is not usable: {e}"),
    })?;
    let channel = bearer.on(channel);
    let http = crate::http_client();
    for (system, base) in &target.receivers {
        let url = format!("{base}/health");
        let answer = http.get(&url).timeout(Duration::from_secs(5)).send().await;
        if let Err(e) = answer.and_then(reqwest::Response::error_for_status) {
            return Err(RunError::Receiver {
                system: system.clone(),
                endpoint: base.clone(),
                reason: format!("does not answer: {e}"),
            });
        }
    }
    let population = Population::generate(target.residents, target.seed);
    // A run-unique prefix for idempotency keys, so a second run against the same gateway is not
    // answered from the first.
    let run = uuid::Uuid::now_v7().simple().to_string();
    let visit = Visit { target, population: &population, channel, http, run };
    let jobs: Vec<(&Suite, &Case)> =
        suites.iter().flat_map(|s| s.cases.iter().map(move |c| (s, c))).collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; jobs.len()];
    let mut pending = futures::stream::FuturesUnordered::new();
    let mut next = 0;
    use futures::StreamExt;
    while next < jobs.len() || !pending.is_empty() {
        while next < jobs.len() && pending.len() < parallel.max(1) {
            let (suite, case) = jobs[next];
            let index = next;
            let visit = &visit;
            pending.push(async move {
                let started = Instant::now();
                let failures = visit.case(case).await;
                let outcome = Outcome {
                    suite: suite.name.clone(),
                    file: suite.file.display().to_string(),
                    case: case.clone(),
                    failures,
                    seconds: started.elapsed().as_secs_f64(),
                };
                (index, outcome)
            });
            next += 1;
        }
        if let Some((index, outcome)) = pending.next().await {
            progress(&outcome);
            outcomes[index] = Some(outcome);
        }
    }
    Ok(outcomes.into_iter().flatten().collect())
}

struct Visit<'a> {
    target: &'a Target,
    population: &'a Population,
    channel: Authorized,
    http: reqwest::Client,
    run: String,
}

/// The people of a case.
struct People<'a> {
    applicant: &'a Resident,
    head: Option<&'a Resident>,
    subjects: Vec<String>,
    /// The case's `event_date` as the change feed writes it (YYYYMMDD).
    event_date: String,
}

fn visit_failure(what: impl Into<String>) -> Vec<Failure> {
    vec![Failure {
        interface: "(visit)".into(),
        record: None,
        item: None,
        expected: String::new(),
        received: String::new(),
        what: what.into(),
    }]
}

fn status_text(status: &tonic::Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

impl Visit<'_> {
    /// The applicant a household shape stands for.
    fn applicant(&self, shape: &str) -> Option<&Resident> {
        if let Some(atena) = shape.strip_prefix("atena:") {
            return self.population.find(|r| r.atena_number.as_str() == atena);
        }
        let household_of = |case: HardCase| {
            let person = self.population.hard_case(case)?;
            self.population.household(&person.household_number)?.head()
        };
        match shape {
            // Of working age (under 75, not yet in 後期高齢者医療), from the generated households.
            "single" => self.generated_household(1),
            "couple" => self.generated_household(2),
            "children" => self.generated_family(),
            "ivs" => household_of(HardCase::IvsName),
            "three_generations" => household_of(HardCase::ThreeGenerations),
            "ten" => household_of(HardCase::HouseholdOfTen),
            "foreign_alias" => self.population.hard_case(HardCase::ForeignWithAlias),
            "foreign_no_alias" => self.population.hard_case(HardCase::ForeignWithoutAlias),
            "special_permanent" => self.population.hard_case(HardCase::SpecialPermanentResident),
            "private_use_name" => household_of(HardCase::PrivateUseName),
            "former_surname" => household_of(HardCase::FormerSurname),
            "no_fixed_address" => self.population.hard_case(HardCase::NoFixedAddress),
            _ => None,
        }
    }

    /// The head of the first generated household of `size` adults of working age.
    fn generated_household(&self, size: usize) -> Option<&Resident> {
        let working_age = |r: &Resident| (1962..=2006).contains(&r.birth_date.year());
        self.population
            .households()
            .iter()
            .skip_while(|h| {
                h.members.iter().any(|m| HardCase::ALL.iter().any(|c| c.atena_number() == m.atena_number))
            })
            .find(|h| h.members.len() == size && h.members.iter().all(working_age))
            .and_then(|h| h.head())
    }

    /// The head of the first generated household with children of several ages (school age
    /// and younger).
    fn generated_family(&self) -> Option<&Resident> {
        let year = |r: &Resident| r.birth_date.year();
        self.population
            .households()
            .iter()
            .skip_while(|h| {
                h.members.iter().any(|m| HardCase::ALL.iter().any(|c| c.atena_number() == m.atena_number))
            })
            .find(|h| {
                // Under 18, in two or more years of birth, one of them under six.
                let children: BTreeSet<i32> = h.members.iter().map(year).filter(|y| *y >= 2009).collect();
                children.len() >= 2 && children.iter().any(|y| *y >= 2021)
            })
            .and_then(|h| h.head())
    }

    async fn case(&self, case: &Case) -> Vec<Failure> {
        let Some(applicant) = self.applicant(&case.household) else {
            return visit_failure(format!("the population holds no household of shape {}", case.household));
        };
        let head = self.population.household(&applicant.household_number).and_then(|h| h.head());
        let application_id = match self.submit(case, applicant).await {
            Ok(submitted) => submitted,
            Err(failures) => return failures,
        };
        let event_date = case.staff.get("event_date").map(|d| d.replace('-', "")).unwrap_or_default();
        let (id, subjects, session) = application_id;
        let people = People { applicant, head, subjects, event_date };
        let mut failures = Vec::new();
        let deadline = Instant::now() + self.target.timeout;
        // "Nothing arrives" can only be told once the delivery has come to an end.
        if case.expect.iter().any(|e| e.records == Some(Records::Count(0))) {
            self.settled(&session, &id, deadline).await;
        }
        for expect in &case.expect {
            failures.extend(self.check(expect, &id, &people, deadline).await);
        }
        failures
    }

    /// The visit at the counter, up to the submission (and the backyard center's completion):
    /// the application id and its subjects.
    async fn submit(
        &self,
        case: &Case,
        applicant: &Resident,
    ) -> Result<(String, Vec<String>, String), Vec<Failure>> {
        let mut counter = CounterServiceClient::new(self.channel.clone());
        let mut admin = AdminServiceClient::new(self.channel.clone());
        let event = life_event(&case.event).ok_or_else(|| visit_failure("unknown life event"))? as i32;
        let atena = applicant.atena_number.to_string();
        let session = counter
            .open_session(pb::OpenSessionRequest { counter_id: "conformance".into() })
            .await
            .map_err(|e| visit_failure(format!("OpenSession: {}", status_text(&e))))?
            .into_inner()
            .session_id;
        counter
            .lookup_resident(pb::LookupResidentRequest {
                session_id: session.clone(),
                key: Some(pb::lookup_resident_request::Key::AtenaNumber(atena.clone())),
                include_household: true,
            })
            .await
            .map_err(|e| visit_failure(format!("LookupResident: {}", status_text(&e))))?;
        // A procedure asked for with no life event is not planned: its form is opened directly.
        let planned = if case.event == "request" {
            None
        } else {
            let plan = counter
                .plan_procedures(pb::PlanProceduresRequest {
                    session_id: session.clone(),
                    life_event: event,
                    atena_number: String::new(),
                    answers: case.answers.clone().into_iter().collect(),
                })
                .await
                .map_err(|e| visit_failure(format!("PlanProcedures: {}", status_text(&e))))?
                .into_inner();
            let Some(planned) = plan.procedures.into_iter().find(|p| p.procedure_id == case.procedure) else {
                return Err(vec![Failure {
                    interface: "(plan)".into(),
                    record: None,
                    item: None,
                    expected: case.procedure.clone(),
                    received: String::new(),
                    what: format!("the plan for {} does not hold {}", case.event, case.procedure),
                }]);
            };
            Some(planned)
        };
        let forms = counter
            .prefill_applications(pb::PrefillApplicationsRequest {
                session_id: session.clone(),
                procedure_ids: vec![case.procedure.clone()],
                applicant_atena_number: String::new(),
                life_event: event,
                answers: case.answers.clone().into_iter().collect(),
                subject_atena_number: String::new(),
                evidence: None,
            })
            .await
            .map_err(|e| visit_failure(format!("PrefillApplications: {}", status_text(&e))))?
            .into_inner()
            .forms;
        let form = forms.into_iter().next().ok_or_else(|| visit_failure("PrefillApplications: no form"))?;
        let subjects = if form.subject_atena_numbers.is_empty() {
            planned.as_ref().map(|p| p.subject_atena_numbers.clone()).unwrap_or_default()
        } else {
            form.subject_atena_numbers.clone()
        };
        // Only what staff key in goes back: the server holds the rest of the visit.
        let fields = case
            .staff
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    pb::FieldValue { value: value.clone(), provenance: pb::Provenance::Staff as i32 },
                )
            })
            .collect();
        let submitted = counter
            .submit_applications(pb::SubmitApplicationsRequest {
                session_id: session.clone(),
                idempotency_key: format!("{}/{}", self.run, case.id),
                applications: vec![pb::ApplicationDraft {
                    procedure_id: case.procedure.clone(),
                    applicant_atena_number: String::new(),
                    subject_atena_numbers: Vec::new(),
                    life_event: pb::LifeEvent::Unspecified as i32,
                    fields,
                }],
            })
            .await
            .map_err(|e| visit_failure(format!("SubmitApplications: {}", status_text(&e))))?
            .into_inner();
        let application = submitted
            .applications
            .into_iter()
            .next()
            .ok_or_else(|| visit_failure("SubmitApplications: nothing"))?;
        // Pattern 1: the backyard center keys it in; completing it starts the delivery.
        let queued = admin
            .list_work_items(pb::ListWorkItemsRequest {
                state: pb::WorkItemState::Queued as i32,
                department: planned.map(|p| p.department).unwrap_or_default(),
                limit: 1000,
            })
            .await
            .map_err(|e| visit_failure(format!("ListWorkItems: {}", status_text(&e))))?
            .into_inner()
            .items;
        if let Some(item) = queued.iter().find(|i| i.application_id == application.application_id) {
            admin
                .claim_work_item(pb::ClaimWorkItemRequest {
                    work_item_id: item.work_item_id.clone(),
                    department: String::new(),
                })
                .await
                .map_err(|e| visit_failure(format!("ClaimWorkItem: {}", status_text(&e))))?;
            admin
                .complete_work_item(pb::CompleteWorkItemRequest {
                    work_item_id: item.work_item_id.clone(),
                    note: String::new(),
                })
                .await
                .map_err(|e| visit_failure(format!("CompleteWorkItem: {}", status_text(&e))))?;
        }
        Ok((application.application_id, subjects, session))
    }

    /// Wait until application `id` is delivered, refused or dead-lettered (or the deadline).
    async fn settled(&self, session: &str, id: &str, deadline: Instant) {
        let mut counter = CounterServiceClient::new(self.channel.clone());
        let Ok(stream) =
            counter.watch_session(pb::WatchSessionRequest { session_id: session.to_owned() }).await
        else {
            return;
        };
        let mut stream = stream.into_inner();
        let terminal = [
            pb::ApplicationStatus::Delivered,
            pb::ApplicationStatus::Rejected,
            pb::ApplicationStatus::DeadLettered,
        ]
        .map(|s| s as i32);
        let wait = async {
            while let Ok(Some(event)) = stream.message().await {
                if let Some(pb::session_event::Event::Delivery(d)) = event.event
                    && d.application_id == id
                    && terminal.contains(&d.status)
                {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), wait).await;
    }

    /// What `expect`'s interface got for application `id`, once it has arrived (or the deadline
    /// has passed), against the expectation.
    async fn check(&self, expect: &Expect, id: &str, people: &People<'_>, deadline: Instant) -> Vec<Failure> {
        let interface = expect.interface_id();
        let fail =
            |record: Option<usize>, item: Option<&str>, expected: String, received: String, what: String| {
                Failure {
                    interface: interface.clone(),
                    record,
                    item: item.map(str::to_owned),
                    expected,
                    received,
                    what,
                }
            };
        let Some(base) = self.target.receivers.get(&expect.system) else {
            return vec![fail(
                None,
                None,
                String::new(),
                String::new(),
                format!("no receiver for {}", expect.system),
            )];
        };
        let wanted = match &expect.records {
            Some(Records::Count(n)) => Some(*n),
            Some(Records::Per(PerSubjects::Subjects)) => Some(people.subjects.len().max(1)),
            None => None,
        };
        let records = loop {
            let got = if expect.interface == "atena-diff" {
                self.changes(base, people).await.map(|r| (r.len() >= wanted.unwrap_or(1)).then_some(r))
            } else {
                self.received(base, &expect.interface, id).await
            };
            match got {
                Ok(Some(records)) => break records,
                Ok(None) if Instant::now() < deadline && wanted != Some(0) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(None) => break Vec::new(),
                Err(reason) => return vec![fail(None, None, String::new(), String::new(), reason)],
            }
        };
        let mut failures = Vec::new();
        if wanted == Some(0) {
            if !records.is_empty() {
                failures.push(fail(
                    None,
                    None,
                    "nothing".into(),
                    format!("{} records", records.len()),
                    "must not be sent".into(),
                ));
            }
            return failures;
        }
        if let Some(n) = wanted
            && records.len() != n
        {
            failures.push(fail(
                None,
                None,
                format!("{n} records"),
                format!("{} records", records.len()),
                "the number of records".into(),
            ));
            if records.is_empty() {
                return failures;
            }
        } else if records.is_empty() {
            failures.push(fail(None, None, "a record".into(), "nothing".into(), "nothing arrived".into()));
            return failures;
        }
        let layout = layouts::layout(&expect.system, &expect.interface)
            .or_else(|| layouts::layout("*", &expect.interface));
        let per_subject = layout.and_then(|l| l.per_subject);
        if let (Some(item), Some(Records::Per(_))) = (per_subject, &expect.records) {
            let got: BTreeSet<&str> = records.iter().filter_map(|r| r.get(item)).collect();
            let want: BTreeSet<&str> = if people.subjects.is_empty() {
                [people.applicant.atena_number.as_str()].into()
            } else {
                people.subjects.iter().map(String::as_str).collect()
            };
            for missing in want.difference(&got) {
                failures.push(fail(
                    None,
                    Some(item),
                    (*missing).to_owned(),
                    got.iter().copied().collect::<Vec<_>>().join(","),
                    "no record for this subject".into(),
                ));
            }
        }
        for (n, record) in records.iter().enumerate() {
            let subject = per_subject.and_then(|i| record.get(i));
            let resolve = |template: &str| people.resolve(template, subject);
            let mut expected: Vec<(&String, String)> =
                expect.each.iter().map(|(k, v)| (k, resolve(v))).collect();
            if let Some(exact) = expect.record.get(n) {
                expected.extend(exact.iter().map(|(k, v)| (k, resolve(v))));
            }
            for (item, want) in expected {
                let got = record.get(item).unwrap_or_default();
                if got != want {
                    failures.push(fail(Some(n + 1), Some(item), want, got.to_owned(), "item value".into()));
                }
            }
            for item in &expect.not_sent {
                if let Some(got) = record.get(item) {
                    failures.push(fail(
                        Some(n + 1),
                        Some(item),
                        String::new(),
                        got.to_owned(),
                        "must not be sent".into(),
                    ));
                }
            }
            for (item, hex) in &expect.bytes {
                let want: String =
                    hex.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
                let got =
                    record.item(item).and_then(|i| i.bytes.as_ref()).map(|b| hex_of(b)).unwrap_or_default();
                if got != want {
                    failures.push(fail(Some(n + 1), Some(item), want, got, "item bytes".into()));
                }
            }
        }
        failures
    }

    /// The records `interface` got for application `id`: `None` while nothing has arrived.
    async fn received(
        &self,
        base: &str,
        interface: &str,
        id: &str,
    ) -> Result<Option<Vec<WireRecord>>, String> {
        #[derive(Deserialize)]
        struct Got {
            interface: String,
            records: Vec<WireRecord>,
        }
        let url = format!("{base}/{}", crate::core_system::RECEIVED_PATH.trim_start_matches("/api/v1/"));
        let answer = self
            .http
            .get(&url)
            .query(&[("key", id)])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("the receiver at {base} does not answer: {e}"))?;
        let got: Vec<Got> = answer.json().await.map_err(|e| format!("the receiver at {base}: {e}"))?;
        Ok(got.into_iter().find(|g| g.interface == interface).map(|g| g.records))
    }
}

impl Visit<'_> {
    /// The change-feed records a system took about the case's people on the case's date: the
    /// resident record's differences after the visit's 住民異動届, decoded with the receiver's
    /// layout.
    async fn changes(&self, base: &str, people: &People<'_>) -> Result<Vec<WireRecord>, String> {
        #[derive(Deserialize)]
        struct Batch {
            records: Vec<serde_json::Value>,
        }
        let url = format!("{base}/{}", crate::change_sink::CHANGES_PATH.trim_start_matches("/api/v1/"));
        let answer = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("the receiver at {base} does not answer: {e}"))?;
        let batches: Vec<Batch> = answer.json().await.map_err(|e| format!("the receiver at {base}: {e}"))?;
        let layout = layouts::layout("*", "atena-diff").expect("the change feed's layout");
        let mut whose: BTreeSet<&str> = people.subjects.iter().map(String::as_str).collect();
        if whose.is_empty() {
            whose.insert(people.applicant.atena_number.as_str());
        }
        let mut records = Vec::new();
        for (n, value) in batches.iter().flat_map(|b| &b.records).enumerate() {
            let record = crate::receiver::decode_json(layout, n + 1, value).map_err(|e| e.to_string())?;
            if record.get("R01-001").is_some_and(|a| whose.contains(a))
                && record.get("R02-002") == Some(people.event_date.as_str())
            {
                records.push(record);
            }
        }
        Ok(records)
    }
}

impl People<'_> {
    /// A value template with the case's people filled in.
    fn resolve(&self, template: &str, subject: Option<&str>) -> String {
        if !template.contains('{') {
            return template.to_owned();
        }
        template
            .replace("{applicant.atena_number}", self.applicant.atena_number.as_str())
            .replace("{applicant.household_number}", self.applicant.household_number.as_str())
            .replace("{head.atena_number}", self.head.map_or("", |h| h.atena_number.as_str()))
            .replace("{subject.atena_number}", subject.unwrap_or(""))
            .replace("{subjects.atena_numbers}", &self.subjects.join(","))
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn life_event(name: &str) -> Option<pb::LifeEvent> {
    Some(match name {
        "move_in" => pb::LifeEvent::MoveIn,
        "move_in_from_abroad" => pb::LifeEvent::MoveInFromAbroad,
        "move_out" => pb::LifeEvent::MoveOut,
        "move_out_abroad" => pb::LifeEvent::MoveOutAbroad,
        "move_within" => pb::LifeEvent::MoveWithin,
        "birth" => pb::LifeEvent::Birth,
        "death" => pb::LifeEvent::Death,
        "marriage" => pb::LifeEvent::Marriage,
        "divorce" => pb::LifeEvent::Divorce,
        "household_change" => pb::LifeEvent::HouseholdChange,
        "request" => pb::LifeEvent::Unspecified,
        _ => return None,
    })
}
