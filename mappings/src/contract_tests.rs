//! The contract between procedures' forms and the mappings their applications go through: every
//! form value a mapping reads is on the form, every field of the form reaches the system or says
//! why not, and a per-person interface gets one record per person.

use std::path::Path;

use renkei_conformance::applications::keyed_in;
use renkei_model::Application;

use crate::convert::{Conversion, Event};
use crate::{CanonicalRecord, MappingSet, Report, Value};

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// An NHI application layout; `extra` goes into [mapping], `item` is a third item.
fn claim(extra: &str, item: &str) -> String {
    format!(
        r#"[mapping]
system = "nhi"
interface = "claim"
version = "1"
title = "claim"
effective_from = 2024-04-01
canonical = "application"
format = "csv"
charset = "utf-8"
{extra}

[[items]]
id = "C-1"
name = "applicant"
key = "applicant"
type = "digits"
length = 10
canonical = "applicant"

[[items]]
id = "C-2"
name = "date"
key = "date"
type = "date"
length = 8
canonical = "fields.date"
date = "yyyymmdd"

{item}

[[examples]]
name = "a claim"
direction = "to_system"

[examples.canonical]
applicant = "0000000019"
fields = {{ "date" = "2026-04-10" }}

[examples.system]
applicant = "0000000019"
date = "20260410"
"#
    )
}

const PROCEDURE: &str = "id = \"p.q\"\nname = \"p\"\ndepartment = \"d\"\nacceptance = \"one_stop\"\nprocessing = \"department\"\ntarget_system = \"nhi\"\nmapping = \"nhi/claim\"\n\n[[fields]]\nname = \"date\"\nlabel = \"D\"\n";

fn load(mapping: &str, procedure: &str) -> Result<MappingSet, String> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "systems/nhi/claim@1.toml", mapping);
    write(dir.path(), "procedures/p.toml", procedure);
    MappingSet::load_dir(dir.path()).map_err(|p| p.to_string())
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in the text") + 1
}

#[test]
fn a_form_value_read_in_compute_or_when_must_be_on_the_form() {
    let item = "[[items]]\nid = \"C-3\"\nname = \"kind\"\nkey = \"kind\"\ntype = \"alnum\"\nlength = 2\ndirection = \"to_system\"\ncompute = \"fields.kind == 'a' ? '01' : '02'\"\nwhen = \"fields['extra.flag'] == '1'\"\n";
    let mapping = claim("", item);
    let problems = load(&mapping, PROCEDURE).unwrap_err();
    let compute = line_of(&mapping, "compute = ");
    let when = line_of(&mapping, "when = ");
    assert_eq!(
        problems.lines().collect::<Vec<_>>(),
        [
            format!(
                "systems/nhi/claim@1.toml:{when}: item C-3 kind (kind): reads fields.extra.flag, which the form of procedure p.q (procedures/p.toml) does not declare: it would always be empty"
            ),
            format!(
                "systems/nhi/claim@1.toml:{compute}: item C-3 kind (kind): reads fields.kind, which the form of procedure p.q (procedures/p.toml) does not declare: it would always be empty"
            ),
        ],
        "{problems}"
    );
    let form = format!(
        "{PROCEDURE}\n[[fields]]\nname = \"kind\"\nlabel = \"K\"\n\n[[fields]]\nname = \"extra.flag\"\nlabel = \"F\"\n"
    );
    load(&mapping, &form).unwrap();
}

#[test]
fn a_field_that_is_not_sent_says_why() {
    let mapping = claim("", "");
    let form = format!("{PROCEDURE}\n[[fields]]\nname = \"remarks\"\nlabel = \"備考\"\n");
    let problems = load(&mapping, &form).unwrap_err();
    let line = line_of(&form, "name = \"remarks\"");
    assert_eq!(
        problems,
        format!(
            "procedures/p.toml:{line}: field \"remarks\" reaches no item of nhi/claim: map it, or say why it is not sent (not_sent = \"…\")"
        )
    );
    load(&mapping, &format!("{form}not_sent = \"notes for the department's staff\"\n")).unwrap();
    let problems = load(&mapping, &format!("{form}not_sent = \" \"\n")).unwrap_err();
    assert_eq!(problems, format!("procedures/p.toml:{line}: field \"remarks\": not_sent needs a reason"));
    // A field declared not sent that a mapping does send.
    let sent = PROCEDURE.to_owned() + "not_sent = \"printed only\"\n";
    let line = line_of(&sent, "name = \"date\"");
    let problems = load(&mapping, &sent).unwrap_err();
    assert_eq!(
        problems,
        format!(
            "procedures/p.toml:{line}: field \"date\" is declared not_sent, but nhi/claim sends it: remove not_sent"
        )
    );
}

#[test]
fn a_list_of_subjects_reduced_to_its_first_element_is_refused() {
    let item = |compute: &str| {
        format!(
            "[[items]]\nid = \"C-3\"\nname = \"person\"\nkey = \"person\"\ntype = \"digits\"\nlength = 10\ndirection = \"to_system\"\ncompute = \"{compute}\"\n"
        )
    };
    for compute in ["subjects == null ? applicant : subjects[0]", "subjects.filter(s, s != applicant) [0]"] {
        let mapping = claim("", &item(compute));
        let problems = load(&mapping, PROCEDURE).unwrap_err();
        let line = line_of(&mapping, "compute = ");
        let expected = format!(
            "systems/nhi/claim@1.toml:{line}: item C-3 person (person): reduces subjects to one element; declare records = \"per_subject\" (one record per subject) or \"one_subject\" in [mapping] and read `subject`"
        );
        assert!(problems.lines().any(|l| l == expected), "{compute}: {problems}");
    }
    // The whole list, or the word inside a string, is no reduction.
    for compute in ["subjects == null ? applicant : 'x'", "size(subjects) > 0 ? 'subjects[0]' : applicant"] {
        load(&claim("", &item(compute)), PROCEDURE).unwrap_or_else(|p| panic!("{compute}: {p}"));
    }
    // `subject` exists only where records are declared.
    let mapping = claim("", &item("subject"));
    let problems = load(&mapping, PROCEDURE).unwrap_err();
    assert!(
        problems.contains("reads subject, which only a mapping with records = \"per_subject\""),
        "{problems}"
    );
    load(&claim("records = \"per_subject\"", &item("subject")), PROCEDURE).unwrap();
}

#[test]
fn per_subject_records_need_a_layout_of_several_records() {
    let mapping = claim("records = \"per_subject\"", "").replace("format = \"csv\"", "format = \"json\"");
    let problems = load(&mapping, PROCEDURE).unwrap_err();
    let line = line_of(&mapping, "records = ");
    assert_eq!(
        problems.lines().next().unwrap(),
        format!(
            "systems/nhi/claim@1.toml:{line}: records = \"per_subject\" needs a format that holds several records (csv or fixed), not json; an interface that takes one person per request declares records = \"one_subject\""
        )
    );
    let json = mapping.replace("records = \"per_subject\"", "records = \"one_subject\"");
    load(&json, PROCEDURE).unwrap();
}

/// An application by 0000000019 about `subjects`.
fn application(procedure: &str, subjects: &[&str], fields: &[(&str, &str)]) -> Application {
    let atena = |s: &&str| s.parse().unwrap();
    keyed_in(procedure, "0000000019".parse().unwrap(), subjects.iter().map(atena).collect(), None, fields)
}

#[test]
fn a_household_of_four_joining_the_nhi_is_four_records() {
    let set = MappingSet::embedded().unwrap();
    let m = set.mapping_by_id("nhi/shikaku-shutoku@1").unwrap();
    let family = ["0000000019", "0000000027", "0000000035", "0000000043"];
    let fields = [("idou_kubun", "加入"), ("event_date", "2026-04-01"), ("reason", "move_in")];
    let canonical =
        CanonicalRecord::from_application(m.schema(), &application("kokuho.idou", &family, &fields));
    let records = m.application_records(&canonical).unwrap();
    let item = m.item_index("shutoku_atena_no").unwrap();
    let mut persons = Vec::new();
    for record in &records {
        let mut out = m.new_system();
        m.to_system(record, &mut out, &mut Report::default()).unwrap();
        persons.push(out.get(item).unwrap().to_text());
    }
    assert_eq!(persons, family);
    // No subjects named: the applicant alone.
    let alone = CanonicalRecord::from_application(m.schema(), &application("kokuho.idou", &[], &fields));
    let records = m.application_records(&alone).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].get("subject").unwrap().to_text(), "0000000019");
    // Nobody at all: refused, not an empty document.
    let mut nobody = m.new_canonical();
    nobody.set("fields.event_date", Value::Text("2026-04-01".into())).unwrap();
    let e = m.application_records(&nobody).unwrap_err();
    assert_eq!(
        e.to_string(),
        "applicant: is required: a record per subject needs the subjects or the applicant"
    );
}

#[test]
fn a_one_person_interface_refuses_several_subjects_naming_the_mapping_and_the_rule() {
    let set = MappingSet::embedded().unwrap();
    let m = set.mapping_by_id("tax/shoumei@1").unwrap();
    let fields = [("certificate_kind", "納税証明書"), ("fiscal_year", "2026"), ("event_date", "2026-06-01")];
    let two = application("zei.shoumei", &["0000000019", "0000000027"], &fields);
    let e = m.application_records(&CanonicalRecord::from_application(m.schema(), &two)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "subjects: tax/shoumei@1 takes one person per request (records = \"one_subject\") and the application names 2: submit one application per person"
    );
    let one = application("zei.shoumei", &["0000000027"], &fields);
    let records = m.application_records(&CanonicalRecord::from_application(m.schema(), &one)).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].get("subject").unwrap().to_text(), "0000000027");
}

/// The regression of the 記載事項変更 sent with its new address blank: the form lacked what the
/// mapping reads, and the check said nothing.
#[test]
fn the_kokuho_form_declares_what_kisai_henko_reads() {
    let set = MappingSet::embedded().unwrap();
    let kisai = set.mapping_by_id("nhi/kisai-henko@1").unwrap();
    let form = set.catalog().get(&"kokuho.idou".parse().unwrap()).unwrap();
    let read: Vec<&str> = kisai.form_reads.iter().map(|r| r.field.as_str()).collect();
    for field in [
        "new_address.town",
        "new_address.banchi",
        "new_address.katagaki",
        "new_head_atena_number",
        "new_family_name",
    ] {
        assert!(read.contains(&field), "{field}");
        assert!(form.field(field).is_some(), "{field}");
    }
    // Take a field off the form: the check names the mapping's item and the procedure.
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in ["codes", "procedures", "routing", "systems"] {
        copy(&root.join(sub), &dir.path().join(sub));
    }
    let path = dir.path().join("procedures/kokuho.idou.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("name = \"new_address.town\"", "name = \"new_address.machi\""))
        .unwrap();
    let problems = MappingSet::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        problems.contains("systems/nhi/kisai-henko@1.toml:") && problems.contains(
            "item K12-004 新住所（町字） (shin_machiaza): reads fields.new_address.town, which the form of procedure kokuho.idou (procedures/kokuho.idou.toml) does not declare"
        ),
        "{problems}"
    );
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn a_fifth_relationship_term_is_an_error_naming_the_item_never_dropped() {
    let set = MappingSet::embedded().unwrap();
    let m = set.mapping_by_id("nhi/member@1").unwrap();
    let population = renkei_conformance::population::Population::generate(20, 3);
    let resident = population.residents().next().unwrap();
    let mut canonical = CanonicalRecord::from_resident(m.schema(), resident);
    canonical.set("relationship", Value::Text("子の子の子の子の子".into())).unwrap();
    let e = m.to_system(&canonical, &mut m.new_system(), &mut Report::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "K01-010 続柄1 (zokugara_1): relationship has more than 4 parts joined by \"の\"; the layout holds 4 (never cut)"
    );
    canonical.set("relationship", Value::Text("子の子の子の子".into())).unwrap();
    m.to_system(&canonical, &mut m.new_system(), &mut Report::default()).unwrap();
}

#[test]
fn a_conversion_never_writes_a_record_the_canonical_model_refuses() {
    let set = MappingSet::embedded().unwrap();
    let from = set.mapping_by_id("resident-record/atena-extract@1").unwrap();
    let to = set.mapping_by_id("nhi/member@1").unwrap();
    let population = renkei_conformance::population::Population::generate(20, 3);
    let residents: Vec<_> = population.residents().take(3).collect();
    let mut input = from.file_header().unwrap_or_default();
    for (i, resident) in residents.iter().enumerate() {
        let mut canonical = CanonicalRecord::from_resident(from.schema(), resident);
        match i {
            // A 宛名番号 whose check digit does not match.
            1 => {
                let atena = resident.atena_number.as_str();
                let last = atena.as_bytes()[atena.len() - 1] - b'0';
                let wrong = format!("{}{}", &atena[..atena.len() - 1], (last + 1) % 10);
                canonical.set("atena_number", Value::Text(wrong)).unwrap();
            }
            2 => canonical.set("relationship", Value::Text("子の子の子の子の子".into())).unwrap(),
            _ => {}
        }
        let mut system = from.new_system();
        from.to_system(&canonical, &mut system, &mut Report::default()).unwrap();
        from.encode(&system, &mut input).unwrap();
        input.extend_from_slice(from.record_separator.bytes());
    }
    let mut output = Vec::new();
    let mut refused = Vec::new();
    let totals = Conversion::new(from, to)
        .unwrap()
        .run(&input[..], &mut output, |event| {
            if let Event::Refused { line, path, rule } = event {
                refused.push(format!("{line}: {path}: {rule}"));
            }
        })
        .unwrap();
    assert_eq!((totals.records, totals.written, totals.refused, totals.failed), (3, 1, 2, 0));
    assert_eq!(
        refused,
        [
            "3: atena_number: check digit does not match",
            "4: relationship: 続柄 chains hold at most four terms"
        ]
    );
    assert_eq!(output.len(), to.record_length().unwrap() + 2, "only the valid record is written");
}
