//! The procedure catalog (`procedures/*.toml`): every procedure as data.

use std::collections::BTreeMap;

use renkei_model::{Acceptance, LifeEvent, ProcedureId, Processing, pattern, validate_field_name};
use serde::Deserialize;

use crate::problem::{Problem, line_of};
use crate::source::SourceFile;

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
    /// The core system applications are delivered to; none for procedures handled on paper.
    #[serde(default)]
    pub target_system: Option<String>,
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
            let def: ProcedureDef = match toml::from_str(&file.text) {
                Ok(def) => def,
                Err(e) => {
                    problems.push(problem(
                        e.span().map(|s| line_of(&file.text, s.start)),
                        e.message().to_owned(),
                    ));
                    continue;
                }
            };
            for field in &def.fields {
                if let Err(e) = validate_field_name(&field.name) {
                    let line = file.text.find(&format!("\"{}\"", field.name)).map(|o| line_of(&file.text, o));
                    problems.push(problem(line, format!("field {:?}: {}", field.name, e.rule)));
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
