//! The procedure catalog (`procedures/*.toml`): every procedure as data.

use std::collections::BTreeMap;

use renkei_model::{
    Acceptance, Application, LifeEvent, ProcedureId, Processing, pattern, validate_field_name,
};
use serde::Deserialize;

use crate::canonical::CanonicalKind;
use crate::expr::Expr;
use crate::mapping::Mapping;
use crate::problem::{Problem, line_of};
use crate::reference::InterfaceRef;
use crate::source::SourceFile;

/// The variables a field's `prefill` expression may read, and where a value read from each comes
/// from (see [`FormField::prefill`]).
pub const PREFILL_VARIABLES: [&str; 6] =
    ["applicant", "household", "subjects", "evidence", "answers", "event"];

/// A form field of a procedure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// `new_address.banchi`: lowercase words joined by `_`, nested with `.`.
    pub name: String,
    /// What the form prints beside it.
    pub label: String,
    /// Required whatever the life event.
    #[serde(default)]
    pub required: bool,
    /// Required only for these life events (`move_in`, …).
    #[serde(default)]
    pub required_for: Vec<LifeEvent>,
    /// The values the form offers, when the field is a choice.
    #[serde(default)]
    pub choices: Vec<String>,
    /// How the field is filled from what renkei already knows: a CEL expression over
    /// `applicant` and `household` (the resident record), `subjects` (the members the procedure
    /// is for), `evidence` (the card, QR code or document shown), `answers` (the touch panel's
    /// questionnaire) and `event` (the life event staff chose). A null or empty result leaves
    /// the field to be entered.
    #[serde(default)]
    pub prefill: Option<Expr>,
    /// Why the field reaches no item of the interfaces the procedure goes through (printed on
    /// the form for the resident, used to choose the interface, kept at the counter …). `check`
    /// refuses a field of a procedure with a mapping that is neither sent nor declared here.
    #[serde(default)]
    pub not_sent: Option<String>,
    /// The field holds an individual number (特定個人情報). A value that reads as one is refused
    /// in any other field.
    #[serde(default)]
    pub individual_number: bool,
    /// Carried only by applications made online (the online service's receipt number): the
    /// counter's form does not show it.
    #[serde(default)]
    pub online_only: bool,
}

impl FormField {
    pub fn is_required_for(&self, event: Option<LifeEvent>) -> bool {
        self.required || event.is_some_and(|e| self.required_for.contains(&e))
    }
}

/// Which interface of its target system an application goes through: always the version in
/// force on the application's date, so a procedure names no version.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawMappingRef")]
pub enum MappingRef {
    /// `system/interface`, for every application of the procedure.
    One(InterfaceRef),
    /// Chosen by the value of one form field (国保 異動届: 加入, 脱退 or 記載事項変更).
    ByField(MappingChoice),
}

/// `[mapping] field = "idou_kubun"` with `[mapping.interfaces] "加入" = "nhi/shikaku-shutoku"` …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingChoice {
    /// The form field whose value chooses.
    pub field: String,
    /// The field's value → `system/interface`.
    pub interfaces: BTreeMap<String, InterfaceRef>,
}

/// `mapping` as written, before its references are read.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawMappingRef {
    One(String),
    ByField(RawMappingChoice),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMappingChoice {
    field: String,
    interfaces: BTreeMap<String, String>,
}

/// A procedure's interface: a reference without a version.
fn procedure_interface(named: &str) -> Result<InterfaceRef, String> {
    let reference = InterfaceRef::parse(named).map_err(|e| format!("mapping {named:?} {e}"))?;
    if reference.version.is_some() {
        return Err(format!(
            "mapping {named:?} names a version, but a procedure goes through the version in force on the application's date: write system/interface (nhi/kisai-henko)"
        ));
    }
    Ok(reference)
}

impl TryFrom<RawMappingRef> for MappingRef {
    type Error = String;

    fn try_from(raw: RawMappingRef) -> Result<Self, String> {
        Ok(match raw {
            RawMappingRef::One(named) => MappingRef::One(procedure_interface(&named)?),
            RawMappingRef::ByField(RawMappingChoice { field, interfaces }) => {
                let interfaces = interfaces
                    .into_iter()
                    .map(|(value, named)| Ok((value, procedure_interface(&named)?)))
                    .collect::<Result<_, String>>()?;
                MappingRef::ByField(MappingChoice { field, interfaces })
            }
        })
    }
}

impl MappingRef {
    /// Every interface it may name.
    pub fn interfaces(&self) -> Vec<&InterfaceRef> {
        match self {
            MappingRef::One(one) => vec![one],
            MappingRef::ByField(choice) => choice.interfaces.values().collect(),
        }
    }
}

/// Why no interface could be chosen for an application; names the form field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{procedure}: fields.{field}: {rule}")]
pub struct MappingChoiceError {
    pub procedure: String,
    pub field: String,
    pub rule: String,
}

/// A procedure: what it is, where it is accepted and processed, what it needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcedureDef {
    pub id: ProcedureId,
    pub name: String,
    /// The owning department (担当課).
    pub department: String,
    pub acceptance: Acceptance,
    pub processing: Processing,
    /// The 制度 (programme) of the one-stop candidate list the procedure belongs to (国民健康保険).
    #[serde(default)]
    pub seido: Option<String>,
    /// Where the resident goes for it when it is not taken at the one-stop window
    /// (`区役所2階 24番窓口`); the guide prints the department otherwise.
    #[serde(default)]
    pub window: Option<String>,
    /// One or two sentences for the guide (手続案内書): what the procedure does for the resident.
    #[serde(default)]
    pub summary: Option<String>,
    /// The core system applications are delivered to; none for procedures handled on paper.
    #[serde(default)]
    pub target_system: Option<String>,
    /// The interface of the target system the application goes through (`nhi/kisai-henko`, the
    /// mapping file `systems/nhi/kisai-henko@<version>.toml` in force on the application's date),
    /// or a choice of interfaces by a form field; none while the procedure is keyed in by hand.
    #[serde(default)]
    pub mapping: Option<MappingRef>,
    /// Documents the resident brings.
    #[serde(default)]
    pub documents: Vec<String>,
    #[serde(default)]
    pub fields: Vec<FormField>,
}

impl ProcedureDef {
    /// Pattern 1–4 (see [`renkei_model::pattern`]).
    pub fn pattern(&self) -> u8 {
        pattern(self.acceptance, self.processing)
    }

    /// The fields an application for `event` must fill.
    pub fn required_fields(&self, event: Option<LifeEvent>) -> Vec<&str> {
        self.fields.iter().filter(|f| f.is_required_for(event)).map(|f| f.name.as_str()).collect()
    }

    pub fn field(&self, name: &str) -> Option<&FormField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The `(system, interface)` an application of this procedure goes through; `None` when the
    /// procedure names no mapping.
    pub fn interface_for(&self, app: &Application) -> Result<Option<(&str, &str)>, MappingChoiceError> {
        let named = match &self.mapping {
            None => return Ok(None),
            Some(MappingRef::One(one)) => one,
            Some(MappingRef::ByField(choice)) => {
                let error = |rule: String| MappingChoiceError {
                    procedure: self.id.to_string(),
                    field: choice.field.clone(),
                    rule,
                };
                let value = app
                    .fields
                    .get(&choice.field)
                    .map(|f| f.value.as_str().trim())
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| error("is required to choose the interface".to_owned()))?;
                choice.interfaces.get(value).ok_or_else(|| {
                    let known: Vec<&str> = choice.interfaces.keys().map(String::as_str).collect();
                    error(format!("has no interface for this value (one of {})", known.join(", ")))
                })?
            }
        };
        Ok(Some((named.system.as_str(), named.interface.as_str())))
    }
}

/// The line of form field `name` in its procedure file.
fn field_line(file: &SourceFile, name: &str) -> Option<usize> {
    let needle = format!("name = \"{name}\"");
    file.text.find(&needle).or_else(|| file.text.find(&format!("\"{name}\""))).map(|o| line_of(&file.text, o))
}

/// Every procedure, by id.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    procedures: BTreeMap<ProcedureId, ProcedureDef>,
    /// The file each procedure was read from, with its text (for the lines of later checks).
    sources: BTreeMap<ProcedureId, SourceFile>,
}

impl Catalog {
    pub(crate) fn load(files: &[SourceFile]) -> Result<Catalog, Vec<Problem>> {
        let mut catalog = Catalog::default();
        let mut problems = Vec::new();
        for file in files {
            let problem = |line, message| Problem { file: file.path.clone(), line, message };
            let def: ProcedureDef = match file.parse_toml() {
                Ok(def) => def,
                Err(p) => {
                    problems.push(p);
                    continue;
                }
            };
            let mut names = std::collections::BTreeSet::new();
            for field in &def.fields {
                let line = field_line(file, &field.name);
                if let Err(e) = validate_field_name(&field.name) {
                    problems.push(problem(line, format!("field {:?}: {}", field.name, e.rule)));
                }
                if !names.insert(field.name.as_str()) {
                    problems.push(problem(line, format!("field {:?} appears twice", field.name)));
                }
                for var in field.prefill.iter().flat_map(Expr::variables) {
                    if !PREFILL_VARIABLES.contains(&var.as_str()) {
                        problems.push(problem(
                            line,
                            format!(
                                "field {:?}: prefill reads {var}, which is not bound (prefill reads {})",
                                field.name,
                                PREFILL_VARIABLES.join(", ")
                            ),
                        ));
                    }
                }
            }
            if let Some(previous) = catalog.procedures.get(&def.id) {
                problems.push(problem(
                    None,
                    format!("procedure {} is defined twice (also {:?})", def.id, previous.name),
                ));
                continue;
            }
            catalog.sources.insert(def.id.clone(), file.clone());
            catalog.procedures.insert(def.id.clone(), def);
        }
        if problems.is_empty() { Ok(catalog) } else { Err(problems) }
    }

    /// Checks every procedure's `mapping` against the set's mappings: each names
    /// `system/interface` of its own target system, an interface some mapping file of canonical
    /// kind `application` defines; every form value (`fields.…`) a version of it reads going to
    /// the system is a field of the form; every field of the form reaches an item of some
    /// interface the procedure goes through, or says why not (`not_sent`); and a choice covers
    /// every value its field offers.
    pub(crate) fn check_mappings<'m>(
        &self,
        defines: impl Fn(&str, &str) -> Vec<&'m Mapping>,
    ) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (id, def) in &self.procedures {
            let Some(mapping) = &def.mapping else { continue };
            let file = &self.sources[id];
            let at = |needle: &str| file.text.find(needle).map(|o| line_of(&file.text, o));
            let mut problem =
                |line, message| problems.push(Problem { file: file.path.clone(), line, message });
            if def.target_system.is_none() {
                problem(at("mapping"), "mapping is set but target_system is not".to_owned());
            }
            // What the form's fields reach: the mappings that read each, by field name.
            let mut sent: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            let mut reads_elsewhere = Vec::new();
            // Whether every interface compiled: what a missing one would send is unknown.
            let mut complete = true;
            for named in mapping.interfaces() {
                let line = at(&format!("\"{named}\""));
                let (system, interface) = (named.system.as_str(), named.interface.as_str());
                // What the messages quote: the reference as the file spells it.
                let named = named.to_string();
                let named = named.as_str();
                if def.target_system.as_deref().is_some_and(|t| t != system) {
                    problem(
                        line,
                        format!(
                            "mapping {named:?} is an interface of {system}, but the procedure goes to {}",
                            def.target_system.as_deref().unwrap_or_default()
                        ),
                    );
                }
                let versions = defines(system, interface);
                complete &= !versions.is_empty();
                if versions.is_empty() {
                    problem(
                        line,
                        format!(
                            "mapping {named:?} names no file (systems/{system}/{interface}@<version>.toml)"
                        ),
                    );
                }
                for m in versions {
                    if m.kind != CanonicalKind::Application {
                        problem(
                            line,
                            format!("mapping {named:?} maps {} records, not applications", m.kind.as_str()),
                        );
                        continue;
                    }
                    for read in &m.form_reads {
                        sent.entry(read.field.as_str()).or_default().push(named.to_owned());
                        if def.field(&read.field).is_some() {
                            continue;
                        }
                        // A value the interface requires from the form must be a field of it, or
                        // every application would be refused.
                        if read.required {
                            problem(
                                line,
                                format!(
                                    "mapping {named:?} requires fields.{}, which is not a field of the form",
                                    read.field
                                ),
                            );
                        } else {
                            reads_elsewhere.push(Problem {
                                file: m.file.clone(),
                                line: Some(read.line),
                                message: format!(
                                    "item {}: reads fields.{}, which the form of procedure {id} ({}) does not declare: it would always be empty",
                                    read.item,
                                    read.field,
                                    file.path.display()
                                ),
                            });
                        }
                    }
                }
            }
            let chooser = match mapping {
                MappingRef::ByField(choice) => Some(choice.field.as_str()),
                MappingRef::One(_) => None,
            };
            for field in def.fields.iter().filter(|_| complete) {
                let line = field_line(file, &field.name);
                let reached = sent.get(field.name.as_str());
                match (&field.not_sent, reached) {
                    // The chooser is sent as the interface it chooses.
                    _ if chooser == Some(field.name.as_str()) => {}
                    (None, None) => problem(
                        line,
                        format!(
                            "field {:?} reaches no item of {}: map it, or say why it is not sent (not_sent = \"…\")",
                            field.name,
                            mapping.interfaces().iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
                        ),
                    ),
                    (Some(reason), None) if reason.trim().is_empty() => {
                        problem(line, format!("field {:?}: not_sent needs a reason", field.name))
                    }
                    (Some(_), Some(by)) => problem(
                        line,
                        format!(
                            "field {:?} is declared not_sent, but {} sends it: remove not_sent",
                            field.name, by[0]
                        ),
                    ),
                    _ => {}
                }
            }
            if let MappingRef::ByField(choice) = mapping {
                let line = at(&format!("\"{}\"", choice.field));
                match def.field(&choice.field) {
                    None => {
                        problem(line, format!("mapping field {:?} is not a field of the form", choice.field))
                    }
                    Some(field) => {
                        for value in field.choices.iter().filter(|c| !choice.interfaces.contains_key(*c)) {
                            problem(
                                line,
                                format!(
                                    "mapping: field {:?} offers {value:?}, which chooses no interface",
                                    choice.field
                                ),
                            );
                        }
                    }
                }
            }
            problems.append(&mut reads_elsewhere);
        }
        problems
    }

    pub fn get(&self, id: &ProcedureId) -> Option<&ProcedureDef> {
        self.procedures.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ProcedureDef> {
        self.procedures.values()
    }

    pub fn len(&self) -> usize {
        self.procedures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procedures.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use renkei_model::{Acceptance, Processing};

    use crate::MappingSet;

    #[test]
    fn the_candidate_list_has_55_seido_each_with_department_and_one_stop_flag() {
        let set = MappingSet::embedded().unwrap();
        let mut seido: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for def in set.catalog().iter() {
            let name = def.seido.as_deref().unwrap_or_else(|| panic!("{} has no seido", def.id));
            seido.entry(name).or_default().push(def.id.as_str());
            assert!(!def.department.is_empty(), "{}", def.id);
        }
        assert_eq!(seido.len(), 55, "{:?}", seido.keys().collect::<Vec<_>>());
        for required in [
            "印鑑登録",
            "個人番号カード",
            "戸籍",
            "在留",
            "住民基本台帳",
            "国民健康保険",
            "国民年金",
            "後期高齢者医療",
            "介護保険",
            "子ども医療費",
            "児童手当",
            "就学",
            "身体障害者手帳",
            "精神障害者保健福祉手帳",
            "療育手帳",
            "保育園",
            "個人市民税",
            "税証明",
        ] {
            assert!(seido.contains_key(required), "{required}");
        }
        let one_stop = set.catalog().iter().filter(|d| d.acceptance == Acceptance::OneStop).count();
        assert!(one_stop > 20 && one_stop < set.catalog().len(), "{one_stop}");
    }

    #[test]
    fn the_seven_first_procedures_are_complete() {
        let set = MappingSet::embedded().unwrap();
        let mut patterns = Vec::new();
        for id in [
            "jumin.idou",
            "kokuho.idou",
            "fukushi.iryo",
            "zei.shoumei",
            "seishin.techo.koushin",
            "hoiku.moushikomi",
            "jidou.teate",
        ] {
            let def = set.catalog().get(&id.parse().unwrap()).unwrap();
            assert!(def.target_system.is_some() && def.mapping.is_some(), "{id}");
            assert!(!def.documents.is_empty() && def.summary.is_some(), "{id}");
            assert!(def.fields.len() >= 8, "{id}: {} fields", def.fields.len());
            assert!(def.fields.iter().any(|f| f.prefill.is_some()), "{id}");
            assert!(!def.required_fields(None).is_empty() || id == "jumin.idou", "{id}");
            patterns.push(def.pattern());
        }
        patterns.sort();
        patterns.dedup();
        assert_eq!(patterns, [1, 2, 3, 4], "the seven cover the four patterns");
        let hoiku = set.catalog().get(&"hoiku.moushikomi".parse().unwrap()).unwrap();
        assert_eq!(
            (hoiku.acceptance, hoiku.processing),
            (Acceptance::Department, Processing::BackyardCenter)
        );
    }

    #[test]
    fn every_catalog_mapping_names_a_file_and_the_nhi_kind_chooses_the_interface() {
        use renkei_model::{Application, FieldValue, Provenance};
        let set = MappingSet::embedded().unwrap();
        for def in set.catalog().iter() {
            for named in def.mapping.iter().flat_map(|m| m.interfaces()) {
                assert_eq!(def.target_system.as_deref(), Some(named.system.as_str()), "{}", def.id);
                assert!(
                    set.mappings().any(|m| m.id.system == named.system && m.id.interface == named.interface),
                    "{named}"
                );
            }
        }
        let kokuho = set.catalog().get(&"kokuho.idou".parse().unwrap()).unwrap();
        let mut app = Application {
            procedure: kokuho.id.clone(),
            applicant: "0000000019".parse().unwrap(),
            subjects: Vec::new(),
            life_event: None,
            fields: Default::default(),
        };
        let e = kokuho.interface_for(&app).unwrap_err();
        assert_eq!(e.to_string(), "kokuho.idou: fields.idou_kubun: is required to choose the interface");
        for (kind, interface) in
            [("加入", "shikaku-shutoku"), ("脱退", "shikaku-soshitsu"), ("記載事項変更", "kisai-henko")]
        {
            app.fields.insert(
                "idou_kubun".into(),
                FieldValue {
                    value: renkei_model::MojiText::new(kind).unwrap(),
                    provenance: Provenance::Staff,
                },
            );
            assert_eq!(kokuho.interface_for(&app).unwrap(), Some(("nhi", interface)));
        }
        app.fields.insert(
            "idou_kubun".into(),
            FieldValue {
                value: renkei_model::MojiText::new("転居").unwrap(), provenance: Provenance::Staff
            },
        );
        assert!(kokuho.interface_for(&app).unwrap_err().rule.starts_with("has no interface"));
    }

    #[test]
    fn a_catalog_mapping_that_names_no_file_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("procedures/p.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = "id = \"p.q\"\nname = \"p\"\ndepartment = \"d\"\nacceptance = \"one_stop\"\nprocessing = \"department\"\ntarget_system = \"nhi\"\n\n[mapping]\nfield = \"kind\"\n\n[mapping.interfaces]\n\"a\" = \"nhi/shikaku-idou\"\n\"b\" = \"tax/shoumei\"\n\n[[fields]]\nname = \"kind\"\nlabel = \"K\"\nchoices = [\"a\", \"b\", \"c\"]\n";
        std::fs::write(&path, text).unwrap();
        let problems = MappingSet::load_dir(dir.path()).unwrap_err().to_string();
        let lines: Vec<&str> = problems.lines().collect();
        assert_eq!(
            lines,
            [
                "procedures/p.toml:12: mapping \"nhi/shikaku-idou\" names no file (systems/nhi/shikaku-idou@<version>.toml)",
                "procedures/p.toml:13: mapping \"tax/shoumei\" is an interface of tax, but the procedure goes to nhi",
                "procedures/p.toml:13: mapping \"tax/shoumei\" names no file (systems/tax/shoumei@<version>.toml)",
                "procedures/p.toml:9: mapping: field \"kind\" offers \"c\", which chooses no interface",
            ],
            "{problems}"
        );
    }

    #[test]
    fn a_required_form_value_the_form_lacks_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        // Required going out: fields.date (on the form) and fields.bank.code (not on it); fields.memo
        // is optional but still read from the form; fields.receipt is only read back, so it is not
        // asked of the form.
        write(
            "systems/welfare/claim@1.toml",
            r#"[mapping]
system = "welfare"
interface = "claim"
version = "1"
title = "claim"
effective_from = 2024-04-01
canonical = "application"
format = "json"
charset = "utf-8"

[[items]]
id = "C-1"
name = "date"
key = "date"
type = "date"
length = 8
canonical = "fields.date"
date = "yyyymmdd"
required = true

[[items]]
id = "C-2"
name = "bank"
key = "bank"
type = "digits"
length = 4
canonical = "fields.bank.code"
required = true

[[items]]
id = "C-3"
name = "memo"
key = "memo"
type = "text"
length = 10
canonical = "fields.memo"

[[items]]
id = "C-4"
name = "receipt"
key = "receipt"
type = "alnum"
length = 10
canonical = "fields.receipt"
direction = "to_canonical"
required = true

[[examples]]
name = "a claim"
direction = "to_system"

[examples.canonical]
fields = { "date" = "2026-04-10", "bank.code" = "0138" }

[examples.system]
date = "20260410"
bank = "0138"
"#,
        );
        write(
            "procedures/p.toml",
            "id = \"p.q\"\nname = \"p\"\ndepartment = \"d\"\nacceptance = \"one_stop\"\nprocessing = \"department\"\ntarget_system = \"welfare\"\nmapping = \"welfare/claim\"\n\n[[fields]]\nname = \"date\"\nlabel = \"D\"\n\n[[fields]]\nname = \"bank.name\"\nlabel = \"B\"\n",
        );
        let problems = MappingSet::load_dir(dir.path()).unwrap_err().to_string();
        assert_eq!(
            problems.lines().collect::<Vec<_>>(),
            [
                "procedures/p.toml:7: mapping \"welfare/claim\" requires fields.bank.code, which is not a field of the form",
                // Nothing reads the form's bank.name, and fields.memo, optional, would always go out empty.
                "procedures/p.toml:14: field \"bank.name\" reaches no item of welfare/claim: map it, or say why it is not sent (not_sent = \"…\")",
                "systems/welfare/claim@1.toml:30: item C-3 memo (memo): reads fields.memo, which the form of procedure p.q (procedures/p.toml) does not declare: it would always be empty",
            ],
            "{problems}"
        );
        // With the fields on the form the set loads.
        let text = std::fs::read_to_string(dir.path().join("procedures/p.toml")).unwrap();
        write(
            "procedures/p.toml",
            &(text.replace("bank.name", "bank.code") + "\n[[fields]]\nname = \"memo\"\nlabel = \"M\"\n"),
        );
        MappingSet::load_dir(dir.path()).unwrap();
    }

    #[test]
    fn prefill_expressions_are_checked_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("procedures/p.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            "id = \"p.q\"\nname = \"p\"\ndepartment = \"d\"\nacceptance = \"one_stop\"\nprocessing = \"department\"\n\n[[fields]]\nname = \"a\"\nlabel = \"A\"\nprefill = \"secret.value\"\n\n[[fields]]\nname = \"b\"\nlabel = \"B\"\nprefill = \"applicant.name +\"\n",
        )
        .unwrap();
        let problems = MappingSet::load_dir(dir.path()).unwrap_err().to_string();
        assert!(problems.starts_with("procedures/p.toml:15: CEL: "), "{problems}");
        std::fs::write(&path, std::fs::read_to_string(&path).unwrap().replace("name +", "name")).unwrap();
        let problems = MappingSet::load_dir(dir.path()).unwrap_err().to_string();
        assert_eq!(
            problems,
            "procedures/p.toml:8: field \"a\": prefill reads secret, which is not bound (prefill reads applicant, household, subjects, evidence, answers, event)"
        );
    }
}
