//! The conformance suites catch a broken mapping set: run `renkei conformance run` (simulators as
//! separate processes) against a copy of the default set with one defect put back, and read the
//! JUnit report with an XML parser and the HTML report as headless Chromium renders it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the default mapping set with `edit` applied to one file.
fn mapping_set_with(dir: &Path, file: &str, edit: impl FnOnce(String) -> String) -> PathBuf {
    let set = dir.join("mappings");
    for sub in ["codes", "procedures", "routing", "systems"] {
        copy_dir(&repo().join("mappings").join(sub), &set.join(sub));
    }
    let path = set.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit changed {file}");
    std::fs::write(&path, edited).unwrap();
    set
}

fn renkei(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_renkei"))
        .current_dir(repo())
        .args(["--log", "error"])
        .args(args)
        .output()
        .expect("renkei runs")
}

/// Every `<failure message=…>` of a JUnit report, by test case name.
fn junit_failures(xml: &str) -> Vec<(String, String)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut case, mut failures) = (String::new(), Vec::new());
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                let attribute = |name: &str| {
                    e.try_get_attribute(name)
                        .unwrap()
                        .map(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).unwrap().into_owned())
                };
                match e.name().as_ref() {
                    "testcase" => case = attribute("name").unwrap(),
                    "failure" => failures.push((case.clone(), attribute("message").unwrap())),
                    _ => {}
                }
            }
            quick_xml::events::Event::Eof => return failures,
            _ => {}
        }
    }
}

#[test]
fn a_household_reduced_to_one_person_fails_the_suites_by_case_item_and_value() {
    let dir = tempfile::tempdir().unwrap();
    // The defect as it was: the 資格取得届 goes as one record, for one person.
    let set = mapping_set_with(dir.path(), "systems/nhi/shikaku-shutoku@1.toml", |text| {
        text.replace("records = \"per_subject\"\n", "")
            .replace("canonical = \"subject\"", "canonical = \"applicant\"")
            .split("[[examples]]")
            .next()
            .unwrap()
            .to_owned()
            + "[[examples]]\nname = \"one\"\ndirection = \"to_system\"\n\n[examples.canonical]\napplicant = \"0000000019\"\nfields = { \"event_date\" = \"2026-04-01\", \"reason\" = \"move_in\" }\n\n[examples.system]\ntodokede_atena_no = \"0000000019\"\nshutoku_atena_no = \"0000000019\"\nshutoku_date = \"20260401\"\nshutoku_jiyu = \"01\"\n"
    });
    let check = renkei(&["mappings", "check", set.to_str().unwrap()]);
    assert!(
        check.status.success(),
        "the mapping check cannot see it: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    let (junit, html) = (dir.path().join("junit.xml"), dir.path().join("report.html"));
    let run = renkei(&[
        "conformance",
        "run",
        "conformance/suites/nhi.toml",
        "--mappings",
        set.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(2), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains(" failed — JUnit"), "{stdout}");

    let failures = junit_failures(&std::fs::read_to_string(&junit).unwrap());
    let ten = failures
        .iter()
        .find(|(case, _)| case == "nhi/shikaku-shutoku/K10-002/move_in/ten")
        .unwrap_or_else(|| panic!("the household of ten fails: {failures:?}"));
    assert_eq!(
        ten.1,
        "nhi/shikaku-shutoku: the number of records: expected \"9 records\", received \"1 records\""
    );
    // A single person's case still passes: the suites fail where the data is wrong, not everywhere.
    assert!(!failures.iter().any(|(case, _)| case == "nhi/shikaku-shutoku/K10-002/move_in/single"));
    assert!(!failures.iter().any(|(case, _)| case.starts_with("nhi/kisai-henko/")));

    // The HTML report as a browser renders it: the failing case, with expected against received.
    let (png, dom) = (dir.path().join("report.png"), dir.path().join("dom.html"));
    let render = Command::new(repo().join("conformance/scripts/render-report.sh"))
        .args([&html, &png, &dom])
        .output()
        .unwrap();
    assert!(render.status.success(), "render-report.sh: {}", String::from_utf8_lossy(&render.stderr));
    let image = std::fs::read(&png).unwrap();
    assert!(image.starts_with(b"\x89PNG\r\n\x1a\n") && image.len() > 10_000, "a screenshot");
    let dom = std::fs::read_to_string(&dom).unwrap();
    let row = dom
        .split("<details")
        .find(|d| d.contains("nhi/shikaku-shutoku/K10-002/move_in/ten"))
        .expect("the failing case is shown");
    assert!(row.contains("<details open") || dom.contains("open=\"\""), "open: {row}");
    assert!(
        row.contains("<td class=\"expected\">9 records</td><td class=\"received\">1 records</td>"),
        "{row}"
    );
    assert!(row.contains("no record for this subject"), "{row}");
}

#[test]
fn a_form_field_renamed_in_the_form_only_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let set = mapping_set_with(dir.path(), "procedures/jidou.teate.toml", |text| {
        text.replace("name = \"bank.account_number\"", "name = \"bank.account_no\"")
    });
    let run = renkei(&[
        "conformance",
        "run",
        "conformance/suites/welfare.toml",
        "--mappings",
        set.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    // Both halves of the mismatch, each with its file and line.
    assert!(
        stderr.contains("procedures/jidou.teate.toml:12: mapping \"welfare/jidou-teate\" requires fields.bank.account_number, which is not a field of the form"),
        "{stderr}"
    );
    assert!(stderr.contains("field \"bank.account_no\" reaches no item of welfare/jidou-teate"), "{stderr}");
}
