//! Conformance suites as data (`conformance/suites/*.toml`): what is given at the counter, and
//! what each receiving system must get, item by item, in its own terms.
//!
//! ```toml
//! title = "国民健康保険"
//!
//! [[case]]
//! id = "nhi/shikaku-shutoku/K10-002/each-member-of-four"
//! household = "children"            # a household shape (HOUSEHOLD_SHAPES) or "atena:0000000019"
//! event = "move_in"                 # the life event
//! procedure = "kokuho.idou"         # the procedure the plan must hold
//! staff = { idou_kubun = "加入", event_date = "2026-04-01", reason = "move_in" }
//!
//! [[case.expect]]
//! system = "nhi"
//! interface = "shikaku-shutoku"
//! records = "subjects"              # one record per subject; or a number (0: nothing arrives)
//! not_sent = ["K10-006"]            # items every record must leave empty
//! [case.expect.each]                # every record: item id → exact value
//! "K10-001" = "{applicant.atena_number}"
//! "K10-002" = "{subject.atena_number}"
//! "K10-003" = "20260401"
//! ```
//!
//! `[[generate]]` takes the same keys with `households = […]` and `events = […]` instead of one
//! each, and an `id` with `{household}` and `{event}` in it: one case per pair.
//!
//! Values may name the people of the case: `{applicant.atena_number}`, `{subject.atena_number}`
//! (the record's person, in a per-subject interface), `{subjects.atena_numbers}` (all, joined
//! with `,`), `{head.atena_number}`. `[[case.expect.record]]` tables expect records one by one,
//! in order; `bytes` expects an item's exact bytes in hex (`"K10-005" = "8c92 8160"`).
//!
//! Loading refuses an unknown system, interface, item, household shape, life event or key with
//! the file and line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::receiver::layouts;

/// The household shapes a case can name: a single person and a couple of working age, a family
/// with children of several ages, three generations, a household of ten, a foreign resident with
/// a 通称 and one without, a special permanent resident, an IVS name, an MJ+ (private use) name, a
/// 旧氏 user, a person with no fixed address.
pub const HOUSEHOLD_SHAPES: [&str; 12] = [
    "single",
    "couple",
    "children",
    "three_generations",
    "ten",
    "foreign_alias",
    "foreign_no_alias",
    "special_permanent",
    "ivs",
    "private_use_name",
    "former_surname",
    "no_fixed_address",
];

/// The life events, by their names in routing rules, and `request`: a procedure asked for at
/// the counter with no life event (a certificate, a renewal), not planned.
pub const LIFE_EVENTS: [&str; 11] = [
    "request",
    "move_in",
    "move_in_from_abroad",
    "move_out",
    "move_out_abroad",
    "move_within",
    "birth",
    "death",
    "marriage",
    "divorce",
    "household_change",
];

/// A loaded suite.
#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    pub title: String,
    pub file: PathBuf,
    pub cases: Vec<Case>,
}

/// One case, hand-written or generated.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub title: String,
    pub line: usize,
    pub generated: bool,
    pub household: String,
    pub event: String,
    pub procedure: String,
    pub answers: BTreeMap<String, String>,
    pub staff: BTreeMap<String, String>,
    pub expect: Vec<Expect>,
}

/// What one receiving interface must get.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub system: String,
    pub interface: String,
    #[serde(default)]
    pub records: Option<Records>,
    #[serde(default)]
    pub each: BTreeMap<String, String>,
    #[serde(default)]
    pub record: Vec<BTreeMap<String, String>>,
    #[serde(default)]
    pub not_sent: Vec<String>,
    #[serde(default)]
    pub bytes: BTreeMap<String, String>,
}

impl Expect {
    /// `system/interface`, as reports group cases.
    pub fn interface_id(&self) -> String {
        format!("{}/{}", self.system, self.interface)
    }
}

/// How many records an interface must get.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Records {
    Count(usize),
    /// `"subjects"`: one per subject of the application.
    Per(PerSubjects),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PerSubjects {
    Subjects,
}

/// A problem in a suite file, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for SuiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for SuiteError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    title: String,
    #[serde(default)]
    case: Vec<toml::Spanned<CaseSpec>>,
    #[serde(default)]
    generate: Vec<toml::Spanned<GenerateSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    id: String,
    #[serde(default)]
    title: Option<String>,
    household: String,
    event: String,
    procedure: String,
    #[serde(default)]
    answers: BTreeMap<String, String>,
    #[serde(default)]
    staff: BTreeMap<String, String>,
    expect: Vec<Expect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateSpec {
    id: String,
    #[serde(default)]
    title: Option<String>,
    households: Vec<String>,
    events: Vec<String>,
    procedure: String,
    #[serde(default)]
    answers: BTreeMap<String, String>,
    #[serde(default)]
    staff: BTreeMap<String, String>,
    expect: Vec<Expect>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

impl Suite {
    /// Read and check one suite file.
    pub fn load(path: &Path) -> Result<Suite, Vec<SuiteError>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![SuiteError { file: path.to_owned(), line: None, message: format!("cannot read: {e}") }]
        })?;
        Self::parse(path, &text)
    }

    /// Check a suite given as text; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Suite, Vec<SuiteError>> {
        let error = |line, message: String| SuiteError { file: path.to_owned(), line, message };
        let file: SuiteFile = toml::from_str(text)
            .map_err(|e| vec![error(e.span().map(|s| line_of(text, s.start)), e.message().to_owned())])?;
        let mut cases = Vec::new();
        let mut errors = Vec::new();
        for spanned in file.case {
            let span = spanned.span();
            let spec = spanned.into_inner();
            cases.push(Case {
                title: spec.title.unwrap_or_else(|| spec.id.clone()),
                id: spec.id,
                line: line_of(text, span.start),
                generated: false,
                household: spec.household,
                event: spec.event,
                procedure: spec.procedure,
                answers: spec.answers,
                staff: spec.staff,
                expect: spec.expect,
            });
            check_case(text, span, cases.last().expect("just pushed"), &mut |l, m| errors.push(error(l, m)));
        }
        for spanned in file.generate {
            let span = spanned.span();
            let spec = spanned.into_inner();
            let line = line_of(text, span.start);
            if !spec.id.contains("{household}") || !spec.id.contains("{event}") {
                errors.push(error(Some(line), "generate: id needs {household} and {event}".into()));
            }
            let template = Case {
                title: spec.title.clone().unwrap_or_else(|| spec.id.clone()),
                id: spec.id.clone(),
                line,
                generated: true,
                household: spec.households.first().cloned().unwrap_or_default(),
                event: spec.events.first().cloned().unwrap_or_default(),
                procedure: spec.procedure,
                answers: spec.answers,
                staff: spec.staff,
                expect: spec.expect,
            };
            // Each shape and event once, and the expectations once, for the whole table.
            for household in &spec.households {
                let one = Case { household: household.clone(), ..template.clone() };
                check_case(text, span.clone(), &one, &mut |l, m| errors.push(error(l, m)));
            }
            for event in spec.events.iter().filter(|e| !LIFE_EVENTS.contains(&e.as_str())) {
                errors.push(error(
                    Some(line_in(text, &span, &format!("\"{event}\""))),
                    format!("{}: event {event:?} is no life event", spec.id),
                ));
            }
            for household in &spec.households {
                for event in &spec.events {
                    let id = spec.id.replace("{household}", household).replace("{event}", event);
                    let title = template.title.replace("{household}", household).replace("{event}", event);
                    cases.push(Case {
                        id,
                        title,
                        household: household.clone(),
                        event: event.clone(),
                        ..template.clone()
                    });
                }
            }
        }
        let mut seen = BTreeMap::new();
        for case in &cases {
            if let Some(first) = seen.insert(case.id.clone(), case.line) {
                errors.push(error(
                    Some(case.line),
                    format!("case {} is also defined at line {first}", case.id),
                ));
            }
        }
        errors.sort_by_key(|e| e.line);
        errors.dedup();
        if !errors.is_empty() {
            return Err(errors);
        }
        let name = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        Ok(Suite { name, title: file.title, file: path.to_owned(), cases })
    }

    /// Every `*.toml` of `dir`, in name order.
    pub fn load_dir(dir: &Path) -> Result<Vec<Suite>, Vec<SuiteError>> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            vec![SuiteError { file: dir.to_owned(), line: None, message: format!("cannot read: {e}") }]
        })?;
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let mut suites = Vec::new();
        let mut errors = Vec::new();
        for path in paths {
            match Suite::load(&path) {
                Ok(s) => suites.push(s),
                Err(e) => errors.extend(e),
            }
        }
        if errors.is_empty() { Ok(suites) } else { Err(errors) }
    }
}

/// The line of the first `needle` in the case's table and its subtables (up to the next
/// `[[case]]` or `[[generate]]`), else the case's first line.
fn line_in(text: &str, span: &std::ops::Range<usize>, needle: &str) -> usize {
    let start = span.start.min(text.len());
    let rest = &text[start..];
    let end =
        ["\n[[case]]", "\n[[generate]]"].iter().filter_map(|h| rest.find(h)).min().unwrap_or(rest.len());
    rest[..end].find(needle).map_or_else(|| line_of(text, start), |o| line_of(text, start + o))
}

fn check_case(
    text: &str,
    span: std::ops::Range<usize>,
    case: &Case,
    problem: &mut dyn FnMut(Option<usize>, String),
) {
    let at = |needle: &str| Some(line_in(text, &span, needle));
    if !HOUSEHOLD_SHAPES.contains(&case.household.as_str()) && !case.household.starts_with("atena:") {
        problem(
            at(&case.household),
            format!(
                "{}: household {:?} is no shape ({})",
                case.id,
                case.household,
                HOUSEHOLD_SHAPES.join(", ")
            ),
        );
    }
    if !case.generated && !LIFE_EVENTS.contains(&case.event.as_str()) {
        problem(at(&case.event), format!("{}: event {:?} is no life event", case.id, case.event));
    }
    if case.expect.is_empty() {
        problem(at("expect"), format!("{}: a case expects something", case.id));
    }
    for expect in &case.expect {
        let Some(layout) = layouts::layout(&expect.system, &expect.interface).or_else(|| {
            (expect.interface == "atena-diff").then(|| layouts::layout("*", "atena-diff")).flatten()
        }) else {
            problem(
                at(&format!("\"{}\"", expect.interface)),
                format!("{}: {} is no interface a receiver takes", case.id, expect.interface_id()),
            );
            continue;
        };
        let named = expect
            .each
            .keys()
            .chain(expect.record.iter().flat_map(|r| r.keys()))
            .chain(&expect.not_sent)
            .chain(expect.bytes.keys());
        for item in named {
            if !layout.items.iter().any(|i| i.id == item) {
                problem(
                    at(&format!("\"{item}\"")),
                    format!("{}: {} has no item {item}", case.id, expect.interface_id()),
                );
            }
        }
        if expect.records == Some(Records::Per(PerSubjects::Subjects)) && layout.per_subject.is_none() {
            problem(
                at("records"),
                format!(
                    "{}: {} takes one record per application, not per subject",
                    case.id,
                    expect.interface_id()
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
title = "t"

[[case]]
id = "nhi/shikaku-shutoku/K10-002/x"
household = "children"
event = "move_in"
procedure = "kokuho.idou"

[[case.expect]]
system = "nhi"
interface = "shikaku-shutoku"
records = "subjects"
[case.expect.each]
"K10-002" = "{subject.atena_number}"

[[generate]]
id = "nhi/shikaku-shutoku/{event}/{household}"
households = ["single", "ten"]
events = ["move_in", "birth"]
procedure = "kokuho.idou"

[[generate.expect]]
system = "nhi"
interface = "shikaku-shutoku"
records = 2
"#;

    #[test]
    fn generated_cases_cross_households_and_events() {
        let suite = Suite::parse(Path::new("nhi.toml"), GOOD).unwrap();
        assert_eq!(suite.cases.len(), 5);
        assert_eq!(suite.cases[0].line, 4);
        assert_eq!(suite.cases[4].id, "nhi/shikaku-shutoku/birth/ten");
        assert_eq!(suite.cases[0].expect[0].records, Some(Records::Per(PerSubjects::Subjects)));
        assert_eq!(suite.cases[1].expect[0].records, Some(Records::Count(2)));
    }

    #[test]
    fn unknown_interfaces_items_and_shapes_are_refused_with_their_line() {
        let bad = GOOD
            .replace("\"K10-002\" = ", "\"K10-099\" = ")
            .replace("households = [\"single\"", "households = [\"castle\"")
            .replace("interface = \"shikaku-shutoku\"\nrecords = 2", "interface = \"nope\"\nrecords = 2");
        let errors = Suite::parse(Path::new("nhi.toml"), &bad).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            text.contains(
                &"nhi.toml:15: nhi/shikaku-shutoku/K10-002/x: nhi/shikaku-shutoku has no item K10-099"
                    .to_owned()
            ),
            "{text:?}"
        );
        assert!(text.contains(&"nhi.toml:19: nhi/shikaku-shutoku/{event}/{household}: household \"castle\" is no shape (single, couple, children, three_generations, ten, foreign_alias, foreign_no_alias, special_permanent, ivs, private_use_name, former_surname, no_fixed_address)".to_owned()), "{text:?}");
        assert!(
            text.iter().any(|t| t.starts_with("nhi.toml:25: ") && t.contains("nhi/nope is no interface")),
            "{text:?}"
        );
        assert_eq!(text.len(), 3, "each problem once: {text:?}");
        let e = Suite::parse(Path::new("x.toml"), "title = 1").unwrap_err();
        assert_eq!(e[0].line, Some(1));
    }
}
