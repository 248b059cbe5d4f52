//! `check` on broken files: each kind of mistake is reported with the file and the line it is on.

use std::path::Path;

use crate::MappingSet;

const SEX: &str = include_str!("../codes/sex.toml");

/// A small valid fixed-length mapping; each test breaks one line of it.
const VALID: &str = r#"[mapping]
system = "nhi"
interface = "member"
version = "9"
title = "test layout"
effective_from = 2026-04-01
canonical = "resident"
format = "fixed"
charset = "shift_jis"
record_length = 29

[[items]]
id = "T-001"
name = "宛名番号"
key = "atena_no"
type = "digits"
length = 10
canonical = "atena_number"

[[items]]
id = "T-002"
name = "氏"
key = "shi"
type = "text"
length = 10
canonical = "name.family"
when = "nationality.kind == 'japanese'"

[[items]]
id = "T-003"
name = "性別"
key = "seibetsu"
type = "code"
length = 1
canonical = "sex"
code = "sex"

[[items]]
id = "T-004"
name = "生年月日"
key = "seinengappi"
type = "date"
length = 8
canonical = "birth_date"
date = "yyyymmdd"

[[examples]]
name = "one"
direction = "to_system"
[examples.canonical]
atena_number = "0000000019"
name = { family = "山田" }
sex = "male"
birth_date = "1989-01-08"
nationality = { kind = "japanese" }
[examples.system]
atena_no = "0000000019"
shi = "山田"
seibetsu = "1"
seinengappi = "19890108"
"#;

fn check(mapping: &str) -> Result<MappingSet, String> {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("codes/sex.toml", SEX);
    write("systems/nhi/member@9.toml", mapping);
    MappingSet::load_dir(dir.path()).map_err(|p| p.to_string())
}

/// The line (1-based) of the first line of `VALID` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in the text") + 1
}

fn broken(from: &str, to: &str) -> (String, String) {
    assert!(VALID.contains(from), "{from}");
    let text = VALID.replacen(from, to, 1);
    let problems = check(&text).expect_err("the broken file must be refused");
    (text, problems)
}

#[test]
fn the_valid_file_passes() {
    let set = check(VALID).unwrap();
    let m = set.mapping_by_id("nhi/member@9").unwrap();
    assert!(m.run_examples().iter().all(|r| r.failures.is_empty()));
    assert_eq!(Some(Path::new("systems/nhi/member@9.toml")), Some(m.file.as_path()));
}

#[test]
fn unknown_code_table() {
    let (text, problems) = broken("code = \"sex\"", "code = \"gender\"");
    let line = line_of(&text, "code = \"gender\"");
    assert_eq!(
        problems,
        format!(
            "systems/nhi/member@9.toml:{line}: item T-003 性別 (seibetsu): no code table \"gender\" in codes/"
        )
    );
}

#[test]
fn bad_cel() {
    let (text, problems) =
        broken("when = \"nationality.kind == 'japanese'\"", "when = \"nationality.kind == \"");
    let line = line_of(&text, "when = ");
    assert!(
        problems.starts_with(&format!("systems/nhi/member@9.toml:{line}: item T-002 氏 (shi): CEL: ")),
        "{problems}"
    );
    // A variable that is no field of the record is a problem too, found before any record arrives.
    let (text, problems) =
        broken("when = \"nationality.kind == 'japanese'\"", "when = \"nationalty.kind == 'japanese'\"");
    let line = line_of(&text, "when = ");
    assert_eq!(
        problems,
        format!(
            "systems/nhi/member@9.toml:{line}: item T-002 氏 (shi): CEL: `nationalty` is not a field of the record this expression reads"
        )
    );
}

#[test]
fn wrong_type() {
    let (text, problems) = broken("canonical = \"birth_date\"", "canonical = \"name.given\"");
    let line = line_of(&text, "date = \"yyyymmdd\"");
    assert_eq!(
        problems,
        format!(
            "systems/nhi/member@9.toml:{line}: wrong type: item T-004 生年月日 (seinengappi): name.given holds text, not a date"
        )
    );
    let (text, problems) = broken("date = \"yyyymmdd\"", "date = \"wareki\"\ntype_note = 1");
    assert!(problems.contains("unknown field `type_note`"), "{problems}");
    let _ = text;
}

#[test]
fn length_overflow() {
    // The items take 29 bytes; a record that says otherwise is refused at its line.
    let (text, problems) = broken("record_length = 29", "record_length = 28");
    let line = line_of(&text, "record_length = 28");
    assert_eq!(
        problems,
        format!(
            "systems/nhi/member@9.toml:{line}: length overflow: the items take 29 bytes; record_length is 28"
        )
    );
    // A wareki date cannot fit eight bytes of Shift_JIS.
    let (text, problems) = broken("date = \"yyyymmdd\"", "date = \"wareki\"");
    let line = line_of(&text, "length = 8");
    assert!(
        problems.starts_with(&format!(
            "systems/nhi/member@9.toml:{line}: length overflow: item T-004 生年月日 (seinengappi): dates is 16 bytes in shift_jis; the item holds 8"
        )),
        "{problems}"
    );
}

#[test]
fn missing_field() {
    // A required header field.
    let (text, problems) = broken("effective_from = 2026-04-01\n", "");
    let line = line_of(&text, "[mapping]");
    assert_eq!(problems, format!("systems/nhi/member@9.toml:{line}: missing field `effective_from`"));
    // An item that says nowhere where its value comes from.
    let (text, problems) = broken("canonical = \"atena_number\"\n", "");
    let line = line_of(&text, "id = \"T-001\"") - 1;
    assert_eq!(
        problems,
        format!(
            "systems/nhi/member@9.toml:{line}: missing field: item T-001 宛名番号 (atena_no) has no canonical path, compute or default"
        )
    );
    // A canonical path the model does not have.
    let (text, problems) = broken("canonical = \"name.family\"", "canonical = \"name.surname\"");
    let line = line_of(&text, "name.surname");
    assert_eq!(
        problems,
        format!(
            "systems/nhi/member@9.toml:{line}: item T-002 氏 (shi): \"name.surname\" is not a field of the canonical resident (see `renkei mappings paths`)"
        )
    );
}

#[test]
fn every_problem_of_a_file_is_reported() {
    let text = VALID.replacen("code = \"sex\"", "code = \"gender\"", 1).replacen(
        "record_length = 29",
        "record_length = 30",
        1,
    );
    let problems = check(&text).unwrap_err();
    assert_eq!(problems.lines().count(), 2, "{problems}");
}

#[test]
fn the_file_name_must_match_the_header() {
    let text = VALID.replacen("version = \"9\"", "version = \"10\"", 1);
    let problems = check(&text).unwrap_err();
    assert!(problems.contains("the file must be systems/nhi/member@10.toml"), "{problems}");
}

#[test]
fn a_law_revision_takes_over_on_its_effective_date() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("codes/sex.toml", SEX);
    write("systems/nhi/member@9.toml", VALID);
    write(
        "systems/nhi/member@10.toml",
        &VALID.replacen("version = \"9\"", "version = \"10\"", 1).replacen("2026-04-01", "2027-04-01", 1),
    );
    let set = MappingSet::load_dir(dir.path()).unwrap();
    let on = |y, m, d| {
        set.mapping("nhi", "member", renkei_model::Date::from_ymd(y, m, d).unwrap())
            .map(|m| m.id.version.clone())
    };
    assert_eq!(on(2026, 3, 31), None);
    assert_eq!(on(2027, 3, 31).as_deref(), Some("9"));
    assert_eq!(on(2027, 4, 1).as_deref(), Some("10"));
    let old = set.mapping_by_id("nhi/member@9").unwrap();
    let new = set.mapping_by_id("nhi/member@10").unwrap();
    let changes: Vec<String> = crate::diff::diff(old, new).iter().map(ToString::to_string).collect();
    assert_eq!(changes, ["~ id: nhi/member@9 → nhi/member@10", "~ effective_from: 2026-04-01 → 2027-04-01"]);
}
