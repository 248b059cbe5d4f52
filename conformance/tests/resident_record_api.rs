//! The resident-record simulator driven over real HTTP on loopback, endpoint by endpoint, as an
//! adapter would drive it.

use renkei_conformance::faults::Fault;
use renkei_conformance::population::{HardCase, Population};
use renkei_conformance::resident_record::{ResidentRecordSimulator, SimulatorHandle};
use renkei_model::{AtenaNumber, LifeEvent, ResidentStatus};
use serde_json::{Value, json};

const SIZE: usize = 300;

struct Fixture {
    population: Population,
    sim: SimulatorHandle,
    client: reqwest::Client,
}

async fn start() -> Fixture {
    let population = Population::generate(SIZE, 2026);
    let sim = ResidentRecordSimulator::new(&population).start("127.0.0.1:0").await.expect("bind loopback");
    Fixture { population, sim, client: plain_http_client() }
}

struct Answer {
    status: u16,
    content_type: String,
    text: String,
    body: Value,
}

impl Fixture {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, content_type, text, body }
    }

    async fn get(&self, path: &str) -> Answer {
        Self::answer(self.client.get(self.url(path)).send().await.expect("request")).await
    }

    async fn post(&self, path: &str, body: &Value, key: Option<&str>) -> Answer {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        Self::answer(request.send().await.expect("request")).await
    }

    async fn post_raw(&self, path: &str, body: &'static str, key: Option<&str>) -> Answer {
        let mut request =
            self.client.post(self.url(path)).header("content-type", "application/json").body(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        Self::answer(request.send().await.expect("request")).await
    }

    fn atena(&self, case: HardCase) -> String {
        case.atena_number().to_string()
    }
}

fn new_jusho(banchi: &str) -> Value {
    json!({
        "todofuken": "神奈川県",
        "shikuchoson": "横浜市西区",
        "dantai_code": "141038",
        "machiaza": "柳川町二丁目",
        "banchi": banchi,
        "katagaki": "コーポ柳川402",
        "yubin_no": "2201220"
    })
}

fn tenkyo(atena: &str, banchi: &str) -> Value {
    json!({
        "todoke_shubetsu": "転居",
        "idou_date": "20261121",
        "todokede_atena_no": atena,
        "taisho_atena_no": [atena],
        "shin_jusho": new_jusho(banchi),
        "biko": "窓口受付"
    })
}

#[tokio::test]
async fn health_reports_the_population_size() {
    let f = start().await;
    let a = f.get("/health").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, json!({"status": "ok", "residents": SIZE}));
    assert_eq!(a.content_type, "application/json; charset=utf-8");
}

#[tokio::test]
async fn lookup_by_atena_number() {
    let f = start().await;
    let a = f.get("/atena/0000000019").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.content_type, "application/json; charset=utf-8");
    let r = &a.body;
    assert_eq!(r["atena_no"], "0000000019");
    assert_eq!(r["shi"], "葛\u{E0100}西", "the selector survives the wire");
    assert_eq!(r["mei"], "太郎");
    assert_eq!(r["shi_kana"], "カサイ");
    assert_eq!(r["seinengappi"], "19890108");
    assert_eq!(r["seibetsu"], "1");
    assert_eq!(r["zokugara"], "世帯主");
    assert_eq!(r["jumin_shubetsu"], "1");
    assert_eq!(r["jumin_jotai"], "1");
    assert_eq!(r["tsusho"], Value::Null);
    assert_eq!(r["kokuseki"], Value::Null);
    assert_eq!(r["jusho"]["dantai_code"], "141046");
    assert_eq!(r["jusho"]["machiaza"], "桜町一丁目");
    assert_eq!(r["jusho"]["banchi"], "3番12号");
    assert_eq!(r["jusho"]["yubin_no"], "2310110");
    assert_eq!(r.as_object().unwrap().len(), 19, "every item of the record, and nothing more");

    // The individual number is never part of a record.
    let person = f.population.hard_case(HardCase::IvsName).unwrap();
    let number = person.individual_number.as_ref().unwrap().expose();
    assert!(!a.text.contains(number));

    let unknown = AtenaNumber::from_serial(9_999_999, 10).unwrap();
    let a = f.get(&format!("/atena/{unknown}")).await;
    assert_eq!((a.status, a.body), (404, json!({"error": "not_found"})));

    let a = f.get("/atena/0000000018").await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body, json!({"error": "bad_request", "detail": "atena_no: check digit does not match"}));
    let a = f.get("/atena/00000000x9").await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["detail"], "atena_no: must be 2 to 15 digits (0-9)");
}

#[tokio::test]
async fn foreign_resident_and_no_fixed_address_records() {
    let f = start().await;
    let kim = f.get(&format!("/atena/{}", f.atena(HardCase::ForeignWithAlias))).await.body;
    assert_eq!(kim["shi"], "KIM MINJUN");
    assert_eq!(kim["mei"], "");
    assert_eq!(kim["mei_kana"], "");
    assert_eq!(kim["tsusho"], "金本\u{3000}民俊");
    assert_eq!(kim["tsusho_kana"], "カネモト\u{3000}タミトシ");
    assert_eq!(kim["jumin_shubetsu"], "2");
    assert_eq!(kim["kokuseki"], "KR");
    assert_eq!(kim["zairyu_shikaku"], "PR");

    let park = f.get(&format!("/atena/{}", f.atena(HardCase::SpecialPermanentResident))).await.body;
    assert_eq!(park["zairyu_shikaku"], Value::Null);
    assert_eq!(park["kokuseki"], "KR");

    let yumi = f.get(&format!("/atena/{}", f.atena(HardCase::FormerSurname))).await.body;
    assert_eq!((&yumi["kyuuji"], &yumi["kyuuji_kana"]), (&json!("伊藤"), &json!("イトウ")));
    assert_eq!(yumi["shi"], "山\u{FA11}");

    let tamura = f.get(&format!("/atena/{}", f.atena(HardCase::NoFixedAddress))).await;
    assert_eq!(tamura.status, 200);
    assert!(tamura.body.as_object().unwrap().contains_key("jusho"));
    assert_eq!(tamura.body["jusho"], Value::Null);

    let pua = f.get(&format!("/atena/{}", f.atena(HardCase::PrivateUseName))).await.body;
    assert_eq!(pua["shi"], "\u{F0101}本");
}

#[tokio::test]
async fn household_lists_members_head_first() {
    let f = start().await;
    let head = f.population.hard_case(HardCase::HouseholdOfTen).unwrap();
    let a = f.get(&format!("/setai/{}", head.household_number)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["setai_no"], head.household_number.as_str());
    let members = a.body["members"].as_array().unwrap();
    assert_eq!(members.len(), 10);
    assert_eq!(members[0]["zokugara"], "世帯主");
    assert_eq!(members[0]["atena_no"], head.atena_number.as_str());
    let relations: Vec<&str> = members.iter().map(|m| m["zokugara"].as_str().unwrap()).collect();
    assert_eq!(relations.iter().filter(|r| **r == "子").count(), 5);
    assert!(relations.contains(&"父") && relations.contains(&"母") && relations.contains(&"妹"));
    assert!(members.iter().all(|m| m["setai_no"] == head.household_number.as_str()));

    let three = f.population.hard_case(HardCase::ThreeGenerations).unwrap();
    let a = f.get(&format!("/setai/{}", three.household_number)).await;
    let relations: Vec<&str> =
        a.body["members"].as_array().unwrap().iter().map(|m| m["zokugara"].as_str().unwrap()).collect();
    assert_eq!(relations, ["世帯主", "妻", "子", "子の妻", "子の子", "子の子"]);

    let unknown = renkei_model::HouseholdNumber::from_serial(9_999_999, 10).unwrap();
    let a = f.get(&format!("/setai/{unknown}")).await;
    assert_eq!(a.status, 404, "{}", a.text);
    assert_eq!(a.body, json!({"error": "not_found"}));
    let a = f.get("/setai/0000000011").await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["detail"], "setai_no: check digit does not match");
}

#[tokio::test]
async fn search_by_basic_facts_ignores_selectors_and_spaces_but_returns_exact_code_points() {
    let f = start().await;
    let typed_without_ivs = json!({"shimei": "葛西　太郎", "seinengappi": "19890108"});
    let a = f.post("/atena/search", &typed_without_ivs, None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let results = a.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["atena_no"], "0000000019");
    let shi = results[0]["shi"].as_str().unwrap();
    assert_eq!(shi.chars().collect::<Vec<_>>(), ['葛', '\u{E0100}', '西']);

    let narrowed = json!({"shimei": "葛西太郎", "seinengappi": "19890108", "seibetsu": "1", "jusho": "中区桜町一丁目3番12号"});
    assert_eq!(f.post("/atena/search", &narrowed, None).await.body["results"].as_array().unwrap().len(), 1);
    let wrong_sex = json!({"shimei": "葛西太郎", "seinengappi": "19890108", "seibetsu": "2"});
    assert_eq!(f.post("/atena/search", &wrong_sex, None).await.body, json!({"results": []}));
    let wrong_place = json!({"shimei": "葛西太郎", "seinengappi": "19890108", "jusho": "霞が関"});
    assert_eq!(f.post("/atena/search", &wrong_place, None).await.body, json!({"results": []}));
    let wrong_day = json!({"shimei": "葛西太郎", "seinengappi": "19890107"});
    assert_eq!(f.post("/atena/search", &wrong_day, None).await.body, json!({"results": []}));

    // A foreign resident is found by the 通称 and by the registered name, in any letter case.
    for shimei in ["金本民俊", "Kim Minjun", "キム　ミンジュン"] {
        let q = json!({"shimei": shimei, "seinengappi": "19800214"});
        let a = f.post("/atena/search", &q, None).await;
        let results = a.body["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "{shimei}");
        assert_eq!(results[0]["atena_no"], f.atena(HardCase::ForeignWithAlias));
    }
    // 髙 is not 高: a different character, not a variant.
    let q = json!({"shimei": "高橋ハル", "seinengappi": "19261225"});
    assert_eq!(f.post("/atena/search", &q, None).await.body, json!({"results": []}));
    let q = json!({"shimei": "髙橋ハル", "seinengappi": "19261225"});
    assert_eq!(f.post("/atena/search", &q, None).await.body["results"].as_array().unwrap().len(), 1);

    for (body, detail) in [
        (json!({}), "body: must hold kojin_no, or shimei and seinengappi"),
        (json!({"shimei": "葛西太郎"}), "seinengappi: is required"),
        (
            json!({"shimei": "葛西太郎", "seinengappi": "1989-01-08"}),
            "seinengappi: must be exactly 8 digits (0-9)",
        ),
        (
            json!({"shimei": "葛西太郎", "seinengappi": "19890108", "seibetsu": 1}),
            "seibetsu: must be a string",
        ),
        (json!({"name": "葛西太郎", "seinengappi": "19890108"}), "body: has an unknown field `name`"),
    ] {
        let a = f.post("/atena/search", &body, None).await;
        assert_eq!(a.status, 400, "{body}");
        assert_eq!(a.body, json!({"error": "bad_request", "detail": detail}), "{body}");
    }
    let a = f.post_raw("/atena/search", "{not json", None).await;
    assert_eq!((a.status, &a.body["detail"]), (400, &json!("body: is not valid JSON")));
}

#[tokio::test]
async fn search_by_individual_number() {
    let f = start().await;
    let person = f.population.residents().nth(123).unwrap();
    let number = person.individual_number.as_ref().unwrap().expose();
    let a = f.post("/atena/search", &json!({"kojin_no": number}), None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let results = a.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["atena_no"], person.atena_number.as_str());
    assert!(!a.text.contains(number), "the number is not echoed");

    // A valid number nobody here holds.
    let stranger = renkei_model::IndividualNumber::from_first_eleven(&format!("{:011}", 1)).unwrap();
    assert!(f.population.residents().all(|r| r.individual_number.as_ref() != Some(&stranger)));
    let a = f.post("/atena/search", &json!({"kojin_no": stranger.expose()}), None).await;
    assert_eq!(a.body, json!({"results": []}));

    let mut broken = number.to_owned();
    let last = broken.pop().unwrap().to_digit(10).unwrap();
    broken.push(char::from_digit((last + 1) % 10, 10).unwrap());
    let a = f.post("/atena/search", &json!({"kojin_no": broken}), None).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["detail"], "kojin_no: check digit does not match");
    assert!(!a.text.contains(&broken[..11]), "no digits in the detail");

    let both = json!({"kojin_no": number, "shimei": "葛西太郎", "seinengappi": "19890108"});
    let a = f.post("/atena/search", &both, None).await;
    assert_eq!((a.status, &a.body["detail"]), (400, &json!("shimei: is not allowed with kojin_no")));
}

#[tokio::test]
async fn change_feed_cursors_through_accepted_moves() {
    let f = start().await;
    let a = f.get("/changes?cursor=0").await;
    assert_eq!(a.body, json!({"changes": [], "next_cursor": 0}));

    let movers = [HardCase::IvsName, HardCase::SakiVariant, HardCase::PrivateUseName];
    for (i, case) in movers.iter().enumerate() {
        let body = tenkyo(&f.atena(*case), &format!("{}番1号", i + 1));
        let a = f.post("/todoke", &body, Some(&format!("move-{i}"))).await;
        assert_eq!(a.status, 201, "{}", a.text);
    }
    assert_eq!(f.sim.last_change_seq(), 3);

    let page = f.get("/changes?cursor=0&limit=2").await.body;
    let seqs: Vec<u64> =
        page["changes"].as_array().unwrap().iter().map(|c| c["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(page["next_cursor"], 2);
    let first = &page["changes"][0];
    assert_eq!(first["jiyu"], "転居");
    assert_eq!(first["idou_date"], "20261121");
    assert_eq!(first["record"]["atena_no"], f.atena(HardCase::IvsName));
    assert_eq!(first["record"]["jusho"]["machiaza"], "柳川町二丁目");
    assert_eq!(first["record"]["jusho"]["banchi"], "1番1号");
    assert_eq!(first["record"]["shi"], "葛\u{E0100}西");

    let page = f.get("/changes?cursor=2&limit=2").await.body;
    assert_eq!(page["changes"].as_array().unwrap().len(), 1);
    assert_eq!(page["changes"][0]["seq"], 3);
    assert_eq!(page["changes"][0]["record"]["atena_no"], f.atena(HardCase::PrivateUseName));
    assert_eq!(page["next_cursor"], 3);

    let page = f.get("/changes?cursor=3").await.body;
    assert_eq!(page, json!({"changes": [], "next_cursor": 3}));
    let page = f.get("/changes?cursor=50").await.body;
    assert_eq!(page, json!({"changes": [], "next_cursor": 50}));
    let default_page = f.get("/changes").await.body;
    assert_eq!(default_page["changes"].as_array().unwrap().len(), 3);

    // The lookup sees the new address too.
    let moved = f.get(&format!("/atena/{}", f.atena(HardCase::SakiVariant))).await.body;
    assert_eq!(moved["jusho"]["banchi"], "2番1号");
    assert_eq!(moved["jusho"]["katagaki"], "コーポ柳川402");

    for (query, detail) in [
        ("cursor=-1", "cursor: must be a whole number, 0 or more"),
        ("cursor=abc", "cursor: must be a whole number, 0 or more"),
        ("cursor=0&limit=0", "limit: must be a whole number from 1 to 1000"),
        ("cursor=0&limit=1001", "limit: must be a whole number from 1 to 1000"),
    ] {
        let a = f.get(&format!("/changes?{query}")).await;
        assert_eq!(a.status, 400, "{query}");
        assert_eq!(a.body["detail"], detail, "{query}");
    }
}

#[tokio::test]
async fn todoke_is_recorded_once_per_idempotency_key() {
    let f = start().await;
    let atena = f.atena(HardCase::ForeignWithAlias);
    let body = tenkyo(&atena, "8番8号");

    let first = f.post("/todoke", &body, Some("delivery-42")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let uketsuke_no = first.body["uketsuke_no"].as_str().unwrap().to_owned();
    assert!(uketsuke_no.starts_with('R') && uketsuke_no.ends_with("-000001"), "{uketsuke_no}");

    let again = f.post("/todoke", &body, Some("delivery-42")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, json!({"uketsuke_no": uketsuke_no}));

    let received = f.sim.received_todoke();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].idempotency_key, "delivery-42");
    assert_eq!(received[0].uketsuke_no, uketsuke_no);
    assert_eq!(received[0].times_sent, 2);
    assert_eq!(received[0].todoke.kind, LifeEvent::MoveWithin);
    assert_eq!(received[0].todoke.note.as_deref(), Some("窓口受付"));
    assert_eq!(f.sim.times_sent("delivery-42"), 2);
    assert_eq!(f.sim.times_sent("never-sent"), 0);
    assert_eq!(f.sim.last_change_seq(), 1, "applied once");

    // The same key with different content is refused, not silently answered.
    let other = tenkyo(&atena, "9番9号");
    let a = f.post("/todoke", &other, Some("delivery-42")).await;
    assert_eq!(a.status, 422);
    assert_eq!(a.body["detail"], "Idempotency-Key: was already used for a different todoke");
    assert_eq!(f.sim.received_todoke().len(), 1);

    // A new key is a new todoke.
    let a = f.post("/todoke", &other, Some("delivery-43")).await;
    assert_eq!(a.status, 201);
    assert_ne!(a.body["uketsuke_no"], json!(uketsuke_no));
}

// Several worker threads, so the requests really do race inside the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_resends_of_one_key_record_one_todoke() {
    let f = start().await;
    let body = tenkyo(&f.atena(HardCase::NoFixedAddress), "1番2号");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (client, url, body) = (f.client.clone(), f.url("/todoke"), body.clone());
        tasks.spawn(async move {
            let response = client
                .post(url)
                .header("Idempotency-Key", "same-key")
                .json(&body)
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("json");
            (status, body["uketsuke_no"].as_str().unwrap_or_default().to_owned())
        });
    }
    let answers = tasks.join_all().await;
    assert_eq!(answers.iter().filter(|(s, _)| *s == 201).count(), 1, "{answers:?}");
    assert_eq!(answers.iter().filter(|(s, _)| *s == 200).count(), 11, "{answers:?}");
    assert!(answers.iter().all(|(_, no)| *no == answers[0].1));
    assert_eq!(f.sim.received_todoke().len(), 1);
    assert_eq!(f.sim.times_sent("same-key"), 12);
    assert_eq!(f.sim.last_change_seq(), 1);
    // The person who had no fixed address has one now.
    let tamura = f.sim.resident(&HardCase::NoFixedAddress.atena_number()).unwrap();
    assert_eq!(tamura.address.unwrap().banchi.as_str(), "1番2号");
}

#[tokio::test]
async fn refused_and_malformed_todoke() {
    let f = start().await;
    let atena = f.atena(HardCase::IvsName);

    let mut no_address = tenkyo(&atena, "1番1号");
    no_address.as_object_mut().unwrap().remove("shin_jusho");
    let a = f.post("/todoke", &no_address, Some("k-1")).await;
    assert_eq!(a.status, 422, "{}", a.text);
    assert_eq!(a.body, json!({"error": "rejected", "detail": "shin_jusho: is required for 転居"}));
    assert!(f.sim.received_todoke().is_empty());
    assert_eq!(f.sim.last_change_seq(), 0);

    let unknown = AtenaNumber::from_serial(8_888_888, 10).unwrap().to_string();
    let mut stranger = tenkyo(&atena, "1番1号");
    stranger["taisho_atena_no"] = json!([atena, unknown]);
    let a = f.post("/todoke", &stranger, Some("k-2")).await;
    assert_eq!((a.status, &a.body["detail"]), (422, &json!("taisho_atena_no[1]: no such person")));
    assert_eq!(
        f.sim.resident(&HardCase::IvsName.atena_number()).unwrap().address.unwrap().banchi.as_str(),
        "3番12号"
    );

    // A key refused with 422 is not spent: the corrected todoke goes through under it.
    let a = f.post("/todoke", &tenkyo(&atena, "1番1号"), Some("k-1")).await;
    assert_eq!(a.status, 201, "{}", a.text);

    let a = f.post("/todoke", &tenkyo(&atena, "1番1号"), None).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body, json!({"error": "bad_request", "detail": "Idempotency-Key: is required"}));
    let a = f.post_raw("/todoke", "not json", Some("k-3")).await;
    assert_eq!((a.status, &a.body["detail"]), (400, &json!("body: is not valid JSON")));
    let mut bad_kind = tenkyo(&atena, "1番1号");
    bad_kind["todoke_shubetsu"] = json!("引越し");
    let a = f.post("/todoke", &bad_kind, Some("k-4")).await;
    assert_eq!((a.status, &a.body["detail"]), (400, &json!("todoke_shubetsu: is not a known 届出種別 code")));

    let rejected = f.sim.rejected_todoke();
    let statuses: Vec<u16> = rejected.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [422, 422, 400, 400, 400]);
    assert_eq!(rejected[2].idempotency_key, None);
    assert_eq!(rejected[3].idempotency_key.as_deref(), Some("k-3"));
}

#[tokio::test]
async fn death_and_move_out_change_the_status_and_feed() {
    let f = start().await;
    let subject = f.atena(HardCase::ShowaFirstDay);
    let death = json!({"todoke_shubetsu": "死亡", "idou_date": "20261120", "todokede_atena_no": f.atena(HardCase::IvsName),
        "taisho_atena_no": [subject]});
    assert_eq!(f.post("/todoke", &death, Some("d-1")).await.status, 201);
    let record = f.get(&format!("/atena/{subject}")).await.body;
    assert_eq!(record["jumin_jotai"], "3");
    let change = &f.get("/changes?cursor=0").await.body["changes"][0];
    assert_eq!((&change["jiyu"], &change["record"]["jumin_jotai"]), (&json!("死亡"), &json!("3")));

    // Nothing more can be notified for someone no longer resident.
    let a = f.post("/todoke", &tenkyo(&subject, "1番1号"), Some("d-2")).await;
    assert_eq!((a.status, &a.body["detail"]), (422, &json!("taisho_atena_no[0]: is not a current resident")));

    let household = f.population.hard_case(HardCase::HouseholdOfTen).unwrap().household_number.clone();
    let sister = f.population.household(&household).unwrap().members[9].atena_number.to_string();
    let move_out = json!({"todoke_shubetsu": "転出", "idou_date": "20261201", "todokede_atena_no": sister,
        "taisho_atena_no": [sister]});
    assert_eq!(f.post("/todoke", &move_out, Some("d-3")).await.status, 201);
    assert_eq!(f.sim.resident(&sister.parse().unwrap()).unwrap().status, ResidentStatus::MovedOut);
    let members = f.get(&format!("/setai/{household}")).await.body;
    assert_eq!(members["members"].as_array().unwrap().len(), 9, "a 転出者 is no longer a member");

    // Recorded, but nothing in the body changes the record.
    let marriage = json!({"todoke_shubetsu": "婚姻", "idou_date": "20261121", "todokede_atena_no": sister,
        "taisho_atena_no": [f.atena(HardCase::ForeignWithoutAlias)]});
    assert_eq!(f.post("/todoke", &marriage, Some("d-4")).await.status, 201);
    assert_eq!(f.sim.last_change_seq(), 2);
    assert_eq!(f.sim.received_todoke().len(), 3);
}

#[tokio::test]
async fn injected_faults_exercise_retries() {
    let f = start().await;
    let body = tenkyo(&f.atena(HardCase::TakaVariant), "5番5号");

    f.sim.inject_todoke_fault(Fault::Unavailable);
    let a = f.post("/todoke", &body, Some("retry-1")).await;
    assert_eq!((a.status, &a.body), (503, &json!({"error": "unavailable"})));
    assert!(f.sim.received_todoke().is_empty());

    f.sim.inject_todoke_fault(Fault::LoseResponse);
    let a = f.post("/todoke", &body, Some("retry-1")).await;
    assert_eq!(a.status, 503);
    let recorded = f.sim.todoke_by_key("retry-1").expect("recorded although the answer was lost");

    let a = f.post("/todoke", &body, Some("retry-1")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["uketsuke_no"], recorded.uketsuke_no.as_str());
    assert_eq!(f.sim.times_sent("retry-1"), 2);
    assert_eq!(f.sim.received_todoke().len(), 1);
}

#[tokio::test]
async fn unknown_routes_answer_json_and_shutdown_stops_the_server() {
    let f = start().await;
    let a = f.get("/nowhere").await;
    assert_eq!((a.status, &a.body), (404, &json!({"error": "not_found"})));
    assert_eq!(a.content_type, "application/json; charset=utf-8");
    let a = f.get("/todoke").await;
    assert_eq!(a.status, 405);

    let url = f.url("/health");
    let Fixture { sim, client, .. } = f;
    sim.shutdown().await.expect("clean shutdown");
    assert!(client.get(url).send().await.is_err(), "nothing listens after shutdown");
}

fn plain_http_client() -> reqwest::Client {
    renkei_conformance::http_client()
}
