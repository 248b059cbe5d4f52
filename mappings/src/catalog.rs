//! The procedure catalog (`procedures/*.toml`): every procedure as data.

use std::collections::BTreeMap;

use renkei_model::{Acceptance, LifeEvent, ProcedureId, Processing, pattern, validate_field_name};
use serde::Deserialize;

use crate::problem::{Problem, line_of};
use crate::routing::Expr;
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
}

impl FormField {
    pub fn is_required_for(&self, event: Option<LifeEvent>) -> bool {
        self.required || event.is_some_and(|e| self.required_for.contains(&e))
    }
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
    /// The mapping of the target system's interface the application goes through
    /// (`systems/<name>`); none while the procedure is keyed in by hand.
    #[serde(default)]
    pub mapping: Option<String>,
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
}

/// Every procedure, by id.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    procedures: BTreeMap<ProcedureId, ProcedureDef>,
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
                let line = file.text.find(&format!("\"{}\"", field.name)).map(|o| line_of(&file.text, o));
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
            catalog.procedures.insert(def.id.clone(), def);
        }
        if problems.is_empty() { Ok(catalog) } else { Err(problems) }
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
