//! What a run leaves for testers: JUnit XML for CI, an HTML page to read (cases grouped by
//! interface, each failure with expected against received and the code points of text), and a
//! one-line summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use quick_xml::escape::escape;

use super::{Failure, Outcome};

/// Passed, failed and total cases, and the seconds they took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub seconds: f64,
}

impl Summary {
    pub fn of(outcomes: &[Outcome]) -> Summary {
        let failed = outcomes.iter().filter(|o| !o.passed()).count();
        Summary { passed: outcomes.len() - failed, failed, seconds: outcomes.iter().map(|o| o.seconds).sum() }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} cases: {} passed, {} failed", self.passed + self.failed, self.passed, self.failed)
    }
}

/// How a failure reads on one line: `record 2: K10-002: item value: expected "…", received "…"`.
pub fn describe(failure: &Failure) -> String {
    let mut text = String::new();
    if let Some(record) = failure.record {
        let _ = write!(text, "record {record}: ");
    }
    if let Some(item) = &failure.item {
        let _ = write!(text, "{item}: ");
    }
    text.push_str(&failure.what);
    if !failure.expected.is_empty() || !failure.received.is_empty() {
        let _ = write!(text, ": expected {:?}, received {:?}", failure.expected, failure.received);
    }
    text
}

/// JUnit XML: one `<testsuite>` per suite file, one `<testcase>` per case (classname the
/// interface), a `<failure>` per failing case listing every difference.
pub fn junit(outcomes: &[Outcome]) -> String {
    let mut by_suite: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        by_suite.entry(o.suite.as_str()).or_default().push(o);
    }
    let total = Summary::of(outcomes);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"renkei conformance\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">",
        total.passed + total.failed,
        total.failed,
        total.seconds
    );
    for (suite, cases) in by_suite {
        let s = Summary::of(&cases.iter().map(|o| (*o).clone()).collect::<Vec<_>>());
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">",
            escape(suite),
            cases.len(),
            s.failed,
            s.seconds
        );
        for o in cases {
            let _ = write!(
                xml,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{:.3}\"",
                escape(o.case.id.as_str()),
                escape(o.interface().as_str()),
                escape(o.file.as_str()),
                o.case.line,
                o.seconds
            );
            if o.passed() {
                xml.push_str("/>\n");
                continue;
            }
            let lines: Vec<String> =
                o.failures.iter().map(|f| format!("{}: {}", f.interface, describe(f))).collect();
            let _ = writeln!(
                xml,
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                escape(lines[0].as_str()),
                escape(lines.join("\n").as_str())
            );
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// Text with the code point of every non-ASCII character after it, so that 〜 U+301C and ～
/// U+FF5E, or a name with and without its variation selector, can be told apart.
fn with_code_points(text: &str) -> String {
    if text.is_ascii() {
        return escape(text).into_owned();
    }
    let points: Vec<String> = text.chars().map(|c| format!("U+{:04X}", u32::from(c))).collect();
    format!("{}<br><code class=\"cp\">{}</code>", escape(text), points.join(" "))
}

/// The HTML report: a summary, then the cases grouped by interface, failures first and open.
pub fn html(outcomes: &[Outcome]) -> String {
    let summary = Summary::of(outcomes);
    let mut by_interface: BTreeMap<String, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        by_interface.entry(o.interface()).or_default().push(o);
    }
    let mut page = String::from(
        "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\"><title>renkei conformance</title>\n<style>\
         body{font-family:sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}\
         .pass{color:#1a7f37}.fail{color:#cf222e}table{border-collapse:collapse;margin:.4em 0 1em}\
         td,th{border:1px solid #ccc;padding:.25em .5em;vertical-align:top;text-align:left}\
         code.cp{color:#666;font-size:.85em}details{margin:.2em 0}summary{cursor:pointer}\
         </style></head><body>\n",
    );
    let _ = writeln!(
        page,
        "<h1>renkei conformance</h1>\n<p class=\"{}\" id=\"summary\">{}</p>",
        if summary.failed == 0 { "pass" } else { "fail" },
        escape(summary.to_string().as_str())
    );
    for (interface, cases) in &by_interface {
        let failed = cases.iter().filter(|o| !o.passed()).count();
        let _ = writeln!(
            page,
            "<h2 class=\"{}\">{} — {} / {} passed</h2>",
            if failed == 0 { "pass" } else { "fail" },
            escape(interface.as_str()),
            cases.len() - failed,
            cases.len()
        );
        let mut ordered = cases.clone();
        ordered.sort_by_key(|o| o.passed());
        for o in ordered {
            if o.passed() {
                let _ = writeln!(
                    page,
                    "<div class=\"pass\">✓ {} <small>({}:{})</small></div>",
                    escape(o.case.id.as_str()),
                    escape(o.file.as_str()),
                    o.case.line
                );
                continue;
            }
            let _ = writeln!(
                page,
                "<details open class=\"case\"><summary class=\"fail\">✗ {} <small>({}:{})</small></summary>\n\
                 <table><tr><th>interface</th><th>record</th><th>item</th><th>check</th><th>expected</th><th>received</th></tr>",
                escape(o.case.id.as_str()),
                escape(o.file.as_str()),
                o.case.line
            );
            for f in &o.failures {
                let _ = writeln!(
                    page,
                    "<tr class=\"failure\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"expected\">{}</td><td class=\"received\">{}</td></tr>",
                    escape(f.interface.as_str()),
                    f.record.map(|r| r.to_string()).unwrap_or_default(),
                    escape(f.item.as_deref().unwrap_or("")),
                    escape(f.what.as_str()),
                    with_code_points(&f.expected),
                    with_code_points(&f.received)
                );
            }
            page.push_str("</table></details>\n");
        }
    }
    page.push_str("</body></html>\n");
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::Case;

    fn outcome(id: &str, failures: Vec<Failure>) -> Outcome {
        Outcome {
            suite: "nhi".into(),
            file: "conformance/suites/nhi.toml".into(),
            case: Case {
                id: id.into(),
                title: id.into(),
                line: 7,
                generated: false,
                household: "single".into(),
                event: "move_in".into(),
                procedure: "kokuho.idou".into(),
                answers: Default::default(),
                staff: Default::default(),
                expect: Vec::new(),
            },
            failures,
            seconds: 0.25,
        }
    }

    #[test]
    fn reports_show_expected_against_received_with_code_points() {
        let failure = Failure {
            interface: "nhi/shikaku-shutoku".into(),
            record: Some(1),
            item: Some("K10-005".into()),
            expected: "〜".into(),
            received: "～".into(),
            what: "item value".into(),
        };
        let outcomes = vec![outcome("a<b", Vec::new()), outcome("wave", vec![failure.clone()])];
        assert_eq!(Summary::of(&outcomes).to_string(), "2 cases: 1 passed, 1 failed");
        let xml = junit(&outcomes);
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(xml.contains("name=\"a&lt;b\""), "{xml}");
        // Read back through an XML parser, as CI tools would.
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut messages = Vec::new();
        loop {
            match reader.read_event().unwrap() {
                quick_xml::events::Event::Start(e) if e.name().as_ref() == "failure" => {
                    let message = e.try_get_attribute("message").unwrap().unwrap();
                    messages.push(
                        message.normalized_value(quick_xml::XmlVersion::Implicit1_0).unwrap().into_owned(),
                    );
                }
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(
            messages,
            ["nhi/shikaku-shutoku: record 1: K10-005: item value: expected \"〜\", received \"～\""]
        );
        let page = html(&outcomes);
        assert!(page.contains("U+301C") && page.contains("U+FF5E"), "{page}");
        assert!(page.find("wave").unwrap() < page.find("a&lt;b").unwrap(), "failures first");
    }
}
