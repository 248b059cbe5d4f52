//! Table-driven routing: for each life event, households chosen to hit each rule, and exactly the
//! procedures, patterns, subjects and reasons they must get.

use std::collections::BTreeMap;

use crate::MappingSet;
use renkei_model::testing::household;
use renkei_model::{AtenaNumber, Date, Household, LifeEvent, Sex};

use super::*;
fn today() -> Date {
    Date::from_ymd(2026, 6, 1).unwrap()
}

fn answers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// (procedure, pattern, subjects by index in the household, reasons).
type Expected = (&'static str, u8, &'static [usize], &'static [&'static str]);

struct Case {
    name: &'static str,
    event: LifeEvent,
    household: Household,
    subject: usize,
    answers: BTreeMap<String, String>,
    expected: &'static [Expected],
    /// Questions still open after these answers.
    open: &'static [&'static str],
}

fn check(set: &MappingSet, case: &Case) {
    let subject = &case.household.members[case.subject].atena_number;
    let plan = plan(set, case.event, subject, &case.household, &case.answers, today())
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let got: Vec<(String, u8, Vec<AtenaNumber>, Vec<String>)> = plan
        .procedures
        .iter()
        .map(|p| (p.def.id.to_string(), p.def.pattern(), p.subjects.clone(), p.reasons.clone()))
        .collect();
    let want: Vec<(String, u8, Vec<AtenaNumber>, Vec<String>)> = case
        .expected
        .iter()
        .map(|(id, pattern, subjects, reasons)| {
            (
                id.to_string(),
                *pattern,
                subjects.iter().map(|i| case.household.members[*i].atena_number.clone()).collect(),
                reasons.iter().map(|r| r.to_string()).collect(),
            )
        })
        .collect();
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "{}", case.name);
    }
    assert_eq!(
        got.len(),
        want.len(),
        "{}: planned {:?}",
        case.name,
        got.iter().map(|g| &g.0).collect::<Vec<_>>()
    );
    let open: Vec<&str> = plan.questions.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(open, case.open, "{}", case.name);
}

#[test]
fn life_events_plan_exactly_the_procedures_their_households_need() {
    use Sex::{Female as F, Male as M};
    let set = MappingSet::embedded().unwrap();
    let cases = [
        Case {
            name: "an elderly couple moving in",
            event: LifeEvent::MoveIn,
            household: household(1, &[("一郎", "世帯主", (1948, 1, 10), M), ("花子", "妻", (1951, 9, 3), F)]),
            subject: 0,
            answers: answers(&[
                ("employee_insurance", "いいえ"),
                ("mynumber_card", "はい"),
                ("disability_handbook", "なし"),
                ("has_dog", "いいえ"),
            ]),
            expected: &[
                ("jumin.idou", 2, &[0], &["転入 → 住民異動届（住み始めてから14日以内）"]),
                (
                    "mynumber.card.henko",
                    2,
                    &[0],
                    &["マイナンバーカードあり → 住所の書き換え（転入は90日以内に継続利用の手続）"],
                ),
                ("kokuho.idou", 1, &[1], &["試験\u{3000}花子 74歳・職場の健康保険なし → 国民健康保険に加入"]),
                ("kouki.shikaku", 1, &[0], &["試験\u{3000}一郎 78歳 → 後期高齢者医療の資格取得"]),
                (
                    "kaigo.shikaku",
                    1,
                    &[0, 1],
                    &[
                        "試験\u{3000}一郎 78歳 → 介護保険の資格取得（被保険者証）",
                        "試験\u{3000}花子 74歳 → 介護保険の資格取得（被保険者証）",
                    ],
                ),
                (
                    "keiro.pass",
                    1,
                    &[0, 1],
                    &[
                        "試験\u{3000}一郎 78歳 → 敬老パス（希望する方）",
                        "試験\u{3000}花子 74歳 → 敬老パス（希望する方）",
                    ],
                ),
                ("suidou", 4, &[0], &["引越し → 水道の使用開始・中止（水道局へ連絡）"]),
            ],
            open: &[],
        },
        Case {
            name: "a family with a 6-year-old and a baby, from abroad",
            event: LifeEvent::MoveInFromAbroad,
            household: household(
                2,
                &[
                    ("健", "世帯主", (1990, 2, 1), M),
                    ("由紀", "妻", (1992, 3, 5), F),
                    ("翔", "子", (2019, 8, 10), M),
                    ("結", "子", (2026, 1, 15), F),
                ],
            ),
            subject: 0,
            answers: answers(&[
                ("employee_insurance", "いいえ"),
                ("mynumber_card", "いいえ"),
                ("needs_daycare", "はい"),
                ("pregnant", "いいえ"),
                ("disability_handbook", "なし"),
            ]),
            expected: &[
                ("jumin.idou", 2, &[0], &["国外からの転入 → 住民異動届（住み始めてから14日以内）"]),
                ("mynumber.card.koufu", 1, &[0], &["マイナンバーカードなし → 交付申請（希望する方）"]),
                (
                    "kokuho.idou",
                    1,
                    &[0, 1, 2, 3],
                    &[
                        "試験\u{3000}健 36歳・職場の健康保険なし → 国民健康保険に加入",
                        "試験\u{3000}由紀 34歳・職場の健康保険なし → 国民健康保険に加入",
                        "試験\u{3000}翔 6歳・職場の健康保険なし → 国民健康保険に加入",
                        "試験\u{3000}結 0歳・職場の健康保険なし → 国民健康保険に加入",
                    ],
                ),
                (
                    "nenkin.kokumin",
                    2,
                    &[0, 1],
                    &[
                        "試験\u{3000}健 36歳・職場の年金なし → 国民年金（第1号被保険者）",
                        "試験\u{3000}由紀 34歳・職場の年金なし → 国民年金（第1号被保険者）",
                    ],
                ),
                (
                    "jidou.teate",
                    1,
                    &[2, 3],
                    &[
                        "子 試験\u{3000}翔 6歳 → 児童手当（15日以内に請求）",
                        "子 試験\u{3000}結 0歳 → 児童手当（15日以内に請求）",
                    ],
                ),
                (
                    "kodomo.iryo",
                    1,
                    &[2, 3],
                    &[
                        "子 試験\u{3000}翔 6歳（中学3年生まで）→ 小児医療費助成",
                        "子 試験\u{3000}結 0歳（中学3年生まで）→ 小児医療費助成",
                    ],
                ),
                ("shugaku.tenko", 2, &[2], &["子 試験\u{3000}翔 6歳（小学1年）→ 就学・転校"]),
                (
                    "hoiku.moushikomi",
                    3,
                    &[3],
                    &["子 試験\u{3000}結 0歳・保育の希望あり → 保育所等の利用申込"],
                ),
                (
                    "yobou.sesshu",
                    4,
                    &[2, 3],
                    &[
                        "子 試験\u{3000}翔 6歳 → 予防接種の予診票（接種歴の確認）",
                        "子 試験\u{3000}結 0歳 → 予防接種の予診票（接種歴の確認）",
                    ],
                ),
                ("suidou", 4, &[0], &["引越し → 水道の使用開始・中止（水道局へ連絡）"]),
            ],
            open: &[],
        },
        Case {
            name: "a death in a household with NHI",
            event: LifeEvent::Death,
            household: household(
                3,
                &[
                    ("茂", "世帯主", (1958, 5, 1), M),
                    ("和子", "妻", (1960, 2, 2), F),
                    ("直樹", "子", (1986, 7, 7), M),
                ],
            ),
            subject: 0,
            answers: answers(&[
                ("nhi_enrolled", "はい"),
                ("pension_recipient", "はい"),
                ("disability_handbook", "なし"),
                ("owns_property", "いいえ"),
                ("moped", "いいえ"),
            ]),
            expected: &[
                ("koseki.todoke", 2, &[0], &["死亡 → 死亡届（死亡を知った日から7日以内）"]),
                ("maisou.kyoka", 2, &[0], &["死亡 → 火葬許可申請"]),
                ("jumin.idou", 2, &[0], &["世帯主の死亡・15歳以上の世帯員が2人以上 → 世帯主変更届"]),
                (
                    "kokuho.idou",
                    1,
                    &[0],
                    &["試験\u{3000}茂 68歳・国民健康保険 → 資格喪失（資格確認書の返却）"],
                ),
                ("kokuho.sousai", 1, &[0], &["国民健康保険の加入者の死亡 → 葬祭費（葬儀を行った方へ）"]),
                ("kaigo.shikaku", 1, &[0], &["試験\u{3000}茂 68歳 → 介護保険の資格喪失（被保険者証の返却）"]),
                ("nenkin.mishikyu", 4, &[0], &["年金を受け取っていた → 未支給年金の請求"]),
            ],
            open: &[],
        },
        Case {
            name: "a birth to parents with a 3-year-old",
            event: LifeEvent::Birth,
            household: household(
                4,
                &[
                    ("大輔", "世帯主", (1994, 4, 4), M),
                    ("舞", "妻", (1996, 6, 6), F),
                    ("蒼", "子", (2023, 1, 20), M),
                ],
            ),
            subject: 1,
            answers: answers(&[("nhi_enrolled", "いいえ")]),
            expected: &[
                ("koseki.todoke", 2, &[1], &["出生 → 出生届（生まれた日を含めて14日以内）"]),
                ("jidou.teate.henko", 1, &[1], &["出生・2人目の子 → 児童手当の額改定請求（15日以内）"]),
                ("kodomo.iryo", 1, &[1], &["出生 → 小児医療費助成（医療証）"]),
                ("nyuyoji.kenshin", 4, &[1], &["出生 → 赤ちゃん訪問・乳幼児健診の案内"]),
            ],
            open: &[],
        },
        Case {
            name: "a marriage",
            event: LifeEvent::Marriage,
            household: household(5, &[("彩", "世帯主", (1997, 1, 30), F)]),
            subject: 0,
            answers: answers(&[
                ("household_changes", "はい"),
                ("surname_change", "はい"),
                ("mynumber_card", "はい"),
                ("nhi_enrolled", "はい"),
                ("single_parent", "いいえ"),
            ]),
            expected: &[
                ("koseki.todoke", 2, &[0], &["婚姻届（戸籍の届出）"]),
                ("jumin.idou", 2, &[0], &["住所・世帯が変わる → 住民異動届（転居・世帯変更）"]),
                (
                    "mynumber.card.henko",
                    2,
                    &[0],
                    &["氏が変わる・マイナンバーカードあり → 券面の氏名の書き換え"],
                ),
                ("inkan.touroku", 2, &[0], &["氏が変わる → 印鑑登録のし直し（登録していた方）"]),
                (
                    "kokuho.idou",
                    1,
                    &[0],
                    &["国民健康保険 → 氏名・世帯主の変更、または配偶者の職場の保険に入るときは脱退"],
                ),
                (
                    "nenkin.kokumin",
                    2,
                    &[0],
                    &["29歳・国民年金 → 氏名の変更、配偶者の扶養に入るときは種別変更"],
                ),
            ],
            open: &[],
        },
    ];
    for case in &cases {
        check(&set, case);
    }
}

#[test]
fn only_the_questions_that_matter_are_asked_and_answers_re_plan() {
    use Sex::{Female as F, Male as M};
    let set = MappingSet::embedded().unwrap();
    let couple = household(1, &[("一郎", "世帯主", (1948, 1, 10), M), ("花子", "妻", (1951, 9, 3), F)]);
    let subject = couple.members[0].atena_number.clone();
    let first = plan(&set, LifeEvent::MoveIn, &subject, &couple, &BTreeMap::new(), today()).unwrap();
    let asked: Vec<&str> = first.questions.iter().map(|q| q.id.as_str()).collect();
    // Nobody of school or working age, no woman who could be pregnant, no small child: those
    // questions are not asked.
    assert_eq!(asked, ["mynumber_card", "employee_insurance", "disability_handbook", "has_dog"]);
    let planned: Vec<&str> = first.procedures.iter().map(|p| p.def.id.as_str()).collect();
    assert_eq!(planned, ["jumin.idou", "kouki.shikaku", "kaigo.shikaku", "keiro.pass", "suidou"]);

    let second = plan(
        &set,
        LifeEvent::MoveIn,
        &subject,
        &couple,
        &answers(&[("employee_insurance", "no"), ("disability_handbook", "身体障害者手帳")]),
        today(),
    )
    .unwrap();
    let planned: Vec<&str> = second.procedures.iter().map(|p| p.def.id.as_str()).collect();
    assert_eq!(
        planned,
        [
            "jumin.idou",
            "kokuho.idou",
            "kouki.shikaku",
            "kaigo.shikaku",
            "keiro.pass",
            "fukushi.iryo",
            "shintai.techo",
            "suidou"
        ]
    );
    let asked: Vec<&str> = second.questions.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(asked, ["mynumber_card", "has_dog"]);

    // A family with a small child and a woman of child-bearing age is asked about both.
    let family = household(
        2,
        &[("健", "世帯主", (1990, 2, 1), M), ("由紀", "妻", (1992, 3, 5), F), ("結", "子", (2025, 1, 15), F)],
    );
    let plan =
        plan(&set, LifeEvent::MoveIn, &family.members[0].atena_number, &family, &BTreeMap::new(), today())
            .unwrap();
    let asked: Vec<&str> = plan.questions.iter().map(|q| q.id.as_str()).collect();
    assert!(asked.contains(&"needs_daycare") && asked.contains(&"pregnant"), "{asked:?}");
}

#[test]
fn bad_answers_name_the_question() {
    let set = MappingSet::embedded().unwrap();
    let h = household(1, &[("一郎", "世帯主", (1948, 1, 10), Sex::Male)]);
    let subject = h.members[0].atena_number.clone();
    let e = plan(
        &set,
        LifeEvent::Death,
        &subject,
        &h,
        &answers(&[("nhi_enrolled", "たぶん"), ("colour", "red")]),
        today(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "answers.colour: no question has this id; answers.nhi_enrolled: must be はい or いいえ (yes / no)"
    );
    let stranger = AtenaNumber::from_serial(999, 10).unwrap();
    assert!(matches!(
        plan(&set, LifeEvent::Death, &stranger, &h, &BTreeMap::new(), today()),
        Err(PlanError::SubjectNotInHousehold)
    ));
}

#[test]
fn a_rule_that_fails_at_run_time_is_reported_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "procedures/p.toml",
        "id = \"p\"\nname = \"p\"\ndepartment = \"市民課\"\nacceptance = \"one_stop\"\nprocessing = \"department\"\n",
    );
    write(
        "routing/r.toml",
        "[[rules]]\nid = \"broken\"\nevents = [\"birth\"]\nprocedure = \"p\"\nwhen = \"subject.age\"\nreason = \"x\"\n",
    );
    let set = MappingSet::load_dir(dir.path()).unwrap();
    let h = household(1, &[("一郎", "世帯主", (1948, 1, 10), Sex::Male)]);
    let e =
        plan(&set, LifeEvent::Birth, &h.members[0].atena_number, &h, &BTreeMap::new(), today()).unwrap_err();
    assert_eq!(e.to_string(), "routing rule broken (routing/r.toml:1): `when` gave a Int, not a bool");
}
