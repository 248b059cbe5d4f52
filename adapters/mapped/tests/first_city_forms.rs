//! Every first-city form, prefilled for a synthetic household and completed as staff would,
//! mapped through its interface by the adapter: what the encoded record must hold.

use std::collections::BTreeMap;

use renkei_mappings::planning::read_answers;
use renkei_mappings::{MappingSet, prefill};
use renkei_model::testing::{household, moji};
use renkei_model::{AtenaNumber, Date, LifeEvent, Sex};

fn today() -> Date {
    Date::from_ymd(2026, 6, 1).unwrap()
}

fn answers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A form as the counter completes it: what staff key in (exactly the required fields prefill
/// left open, plus optional ones), and what the encoded record must then hold.
struct Completed {
    procedure: &'static str,
    event: Option<LifeEvent>,
    /// Indexes in the household; the applicant alone when empty.
    subjects: &'static [usize],
    answers: &'static [(&'static str, &'static str)],
    /// The required fields left to staff, in the form's order.
    missing: &'static [&'static str],
    /// What staff write: every missing field and some optional ones.
    staff: &'static [(&'static str, &'static str)],
    mapping: &'static str,
    /// Text the encoded record must contain (a code, a converted date, half-width kana …).
    encoded: &'static [&'static str],
}

#[test]
fn every_first_city_form_prefilled_and_completed_maps_to_its_system() {
    use renkei_model::{Application, FieldValue, KanaText, Provenance};

    let set = MappingSet::embedded().unwrap();
    let mut household = household(
        70,
        &[
            ("一郎", "世帯主", (1988, 5, 10), Sex::Male),
            ("花子", "妻", (1990, 8, 3), Sex::Female),
            ("太郎", "子", (2024, 2, 14), Sex::Male),
            ("次郎", "子", (2026, 5, 20), Sex::Male),
        ],
    );
    for (member, (family, given)) in household.members.iter_mut().zip([
        ("シケン", "イチロウ"),
        ("シケン", "ハナコ"),
        ("シケン", "タロウ"),
        ("シケン", "ジロウ"),
    ]) {
        member.name.family_kana = Some(KanaText::parse(family).unwrap());
        member.name.given_kana = Some(KanaText::parse(given).unwrap());
    }
    let applicant = household.members[0].clone();
    let cases = [
        Completed {
            procedure: "jumin.idou",
            event: Some(LifeEvent::MoveIn),
            subjects: &[0, 1, 2],
            answers: &[],
            missing: &[
                "event_date",
                "new_address.prefecture",
                "new_address.municipality",
                "new_address.local_government_code",
                "new_address.town",
                "new_address.banchi",
            ],
            staff: &[
                ("event_date", "2026-05-25"),
                ("new_address.prefecture", "神奈川県"),
                ("new_address.municipality", "横浜市鶴見区"),
                ("new_address.local_government_code", "141038"),
                ("new_address.town", "鶴見中央一丁目"),
                ("new_address.banchi", "3番"),
            ],
            mapping: "resident-record/todoke@1",
            encoded: &["鶴見中央一丁目"],
        },
        Completed {
            procedure: "kokuho.idou",
            event: Some(LifeEvent::MoveIn),
            subjects: &[0],
            answers: &[],
            missing: &["event_date"],
            staff: &[("event_date", "2026-05-25")],
            mapping: "nhi/shikaku-shutoku@1",
            // 取得事由 転入 (nhi-reason 01) and the date as YYYYMMDD.
            encoded: &["20260525,01"],
        },
        Completed {
            procedure: "fukushi.iryo",
            event: Some(LifeEvent::MoveIn),
            subjects: &[1],
            answers: &[("employee_insurance", "no"), ("disability_handbook", "精神障害者保健福祉手帳")],
            missing: &["event_date", "insurance.insurer_number", "insurance.number"],
            staff: &[
                ("event_date", "2026-05-25"),
                ("insurance.insurer_number", "00141038"),
                ("insurance.number", "12345"),
            ],
            mapping: "welfare/fukushi-iryo@1",
            // 重度障害者医療 (the kind prefilled from the answer) is code 01.
            encoded: &["20260525,01,00141038,,12345"],
        },
        Completed {
            procedure: "zei.shoumei",
            event: None,
            subjects: &[],
            answers: &[],
            missing: &["certificate_kind", "event_date", "fiscal_year", "copies"],
            staff: &[
                ("certificate_kind", "固定資産評価証明書"),
                ("event_date", "2026-06-01"),
                ("fiscal_year", "2026"),
                ("copies", "2"),
                ("property.location", "横浜市中区山下町1番地"),
            ],
            mapping: "tax/shoumei@1",
            encoded: &["\"shomei_shubetsu\":\"03\"", "\"bukken_shozai\":\"横浜市中区山下町1番地\""],
        },
        Completed {
            procedure: "seishin.techo.koushin",
            event: None,
            subjects: &[],
            answers: &[],
            missing: &["event_date", "techo.number", "techo.grade", "techo.expiry", "basis"],
            staff: &[
                ("event_date", "2026-06-01"),
                ("techo.number", "K-001234"),
                ("techo.grade", "2級"),
                ("techo.expiry", "2026-08-31"),
                ("basis", "診断書"),
                ("medical_certificate.date", "令和8年5月20日"),
            ],
            mapping: "welfare/shougai-techo@1",
            encoded: &["\"techo_shubetsu\":\"3\"", "\"tokyu\":\"2\"", "\"shindansho_date\":\"2026-05-20\""],
        },
        Completed {
            procedure: "hoiku.moushikomi",
            event: Some(LifeEvent::MoveIn),
            subjects: &[2],
            answers: &[("needs_daycare", "yes")],
            missing: &["guardian.phone", "hoiku_reason", "desired.start", "desired.facility_1"],
            staff: &[
                ("guardian.phone", "045-000-0000"),
                ("hoiku_reason", "就労"),
                ("work_hours", "100"),
                ("desired.start", "2026-07-01"),
                ("desired.facility_1", "鶴見中央保育園"),
                ("desired.facility_2", "さくら保育園"),
            ],
            mapping: "welfare/hoiku-moushikomi@1",
            encoded: &[
                "\"kibo_date\":\"20260701\"",
                "\"kibo_shisetsu_2\":\"さくら保育園\"",
                "\"hitsuyo_jiyu\":\"就労\"",
                "\"hoiku_jikan\":\"2\"",
            ],
        },
        Completed {
            procedure: "jidou.teate",
            event: Some(LifeEvent::Birth),
            subjects: &[2, 3],
            answers: &[],
            missing: &["pension", "bank.code", "bank.branch", "bank.account_number", "event_date"],
            staff: &[
                ("pension", "厚生年金"),
                ("bank.code", "0009"),
                ("bank.branch", "123"),
                ("bank.account_type", "普通"),
                ("bank.account_number", "1234567"),
                ("event_date", "2026-05-20"),
            ],
            mapping: "welfare/jidou-teate@1",
            // The spouse's 宛名番号 and the holder's kana come from the resident record.
            encoded: &[
                "\"haiguusha_atena_no\":\"0000007013\"", // 花子, serial 701
                "\"shumoku\":\"1\"",
                "\"meigi_kana\":\"ｼｹﾝ ｲﾁﾛｳ\"",
            ],
        },
    ];
    for case in &cases {
        let def = set.catalog().get(&case.procedure.parse().unwrap()).unwrap();
        let subjects: Vec<AtenaNumber> =
            case.subjects.iter().map(|i| household.members[*i].atena_number.clone()).collect();
        let answered = read_answers(&set, &answers(case.answers)).unwrap();
        let sources = prefill::Sources {
            event: case.event,
            applicant: &applicant,
            household: &household,
            subjects: &subjects,
            evidence: None,
            answers: &answered,
            today: today(),
        };
        let form = prefill::prefill(def, &sources).unwrap();
        assert_eq!(form.missing, case.missing, "{}", case.procedure);
        let mut fields = form.fields.clone();
        for (name, value) in case.staff {
            assert!(def.field(name).is_some(), "{}: {name} is not on the form", case.procedure);
            fields
                .insert((*name).to_owned(), FieldValue { value: moji(value), provenance: Provenance::Staff });
        }
        let application = Application {
            procedure: def.id.clone(),
            applicant: applicant.atena_number.clone(),
            subjects: form.subjects.clone(),
            life_event: case.event,
            fields,
        };
        application.validate(&def.required_fields(case.event)).unwrap();
        let system = def.target_system.as_deref().unwrap();
        let prepared = renkei_adapter_mapped::prepare(&set, system, case.procedure, &application)
            .unwrap_or_else(|e| panic!("{}: {e}", case.procedure));
        assert_eq!(prepared.mapping.id.to_string(), case.mapping, "{}", case.procedure);
        let body = prepared.mapping.charset.decode(&prepared.body).unwrap();
        for want in case.encoded {
            assert!(body.contains(want), "{}: {want} not in {body}", case.procedure);
        }
    }
}
