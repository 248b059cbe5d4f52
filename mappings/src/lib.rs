//! renkei's integrator-edited data: code tables (`codes/`), the procedure catalog
//! (`procedures/`) and the life-event routing rules (`routing/`), loaded, checked and indexed once.
//!
//! The default set is compiled in ([`MappingSet::embedded`]); operators point the gateway at
//! their own copy ([`MappingSet::load_dir`]). Loading reports every problem with its file and
//! line, and a set with any problem is refused as a whole.
//!
//! ```
//! use renkei_mappings::MappingSet;
//!
//! let set = MappingSet::embedded().unwrap();
//! let idou = set.catalog().get(&"jumin.idou".parse().unwrap()).unwrap();
//! assert_eq!(idou.name, "住民異動届");
//! assert_eq!(set.code_table("sex").unwrap().by_code("2").unwrap().label, "女");
//! ```

mod catalog;
mod codes;
mod problem;
pub mod routing;
mod source;

use std::collections::BTreeMap;
use std::path::Path;

pub use catalog::{Catalog, FormField, PREFILL_VARIABLES, ProcedureDef};
pub use codes::{CodeEntry, CodeTable};
pub use problem::{Problem, Problems};
pub use routing::RoutingRules;
pub use source::SourceFile;

/// A checked, indexed mapping set.
#[derive(Debug, Clone)]
pub struct MappingSet {
    code_tables: BTreeMap<String, CodeTable>,
    catalog: Catalog,
    routing: RoutingRules,
}

impl MappingSet {
    /// The default set compiled into the binary.
    pub fn embedded() -> Result<MappingSet, Problems> {
        Self::from_files(source::embedded("codes"), source::embedded("procedures"))
            .and_then(|set| set.with_routing(source::embedded("routing")))
    }

    /// An operator's copy: `DIR/codes/*.toml` and `DIR/procedures/*.toml`.
    pub fn load_dir(root: &Path) -> Result<MappingSet, Problems> {
        let mut problems = Vec::new();
        let mut read = |subdir| {
            source::directory(root, subdir).unwrap_or_else(|p| {
                problems.push(p);
                Vec::new()
            })
        };
        let (codes, procedures, routing) = (read("codes"), read("procedures"), read("routing"));
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        Self::from_files(codes, procedures)?.with_routing(routing)
    }

    fn from_files(codes: Vec<SourceFile>, procedures: Vec<SourceFile>) -> Result<MappingSet, Problems> {
        let mut problems = Vec::new();
        let mut code_tables = BTreeMap::new();
        for file in &codes {
            match CodeTable::load(file) {
                Ok(table) => {
                    if code_tables.contains_key(&table.id) {
                        problems.push(Problem {
                            file: file.path.clone(),
                            line: None,
                            message: format!("code table {} is defined twice", table.id),
                        });
                    } else {
                        code_tables.insert(table.id.clone(), table);
                    }
                }
                Err(p) => problems.extend(p),
            }
        }
        let catalog = Catalog::load(&procedures).unwrap_or_else(|p| {
            problems.extend(p);
            Catalog::default()
        });
        let routing = RoutingRules::default();
        if problems.is_empty() {
            Ok(MappingSet { code_tables, catalog, routing })
        } else {
            Err(Problems(problems))
        }
    }

    /// Load `routing/` against the catalog just loaded (rules name its procedures).
    fn with_routing(mut self, files: Vec<SourceFile>) -> Result<MappingSet, Problems> {
        self.routing = RoutingRules::load(&files, &self.catalog).map_err(Problems)?;
        Ok(self)
    }

    pub fn code_table(&self, id: &str) -> Option<&CodeTable> {
        self.code_tables.get(id)
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The life-event routing rules (`routing/`).
    pub fn routing(&self) -> &RoutingRules {
        &self.routing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_set_loads() {
        let set = MappingSet::embedded().unwrap();
        let idou = set.catalog().get(&"jumin.idou".parse().unwrap()).unwrap();
        assert_eq!(idou.pattern(), 2);
        assert_eq!(idou.target_system.as_deref(), Some("resident-record"));
        assert_eq!(idou.required_fields(None), ["event_date"]);
        let for_move = idou.required_fields(Some(renkei_model::LifeEvent::MoveWithin));
        assert!(for_move.contains(&"new_address.banchi"), "{for_move:?}");
        let sex = set.code_table("sex").unwrap();
        assert_eq!(sex.by_canonical("male").unwrap().code, "1");
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn every_problem_is_reported_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "codes/sex.toml",
            "id = \"sex\"\nname = \"性別\"\n\n[[codes]]\ncode = \"1\"\ncanonical = \"male\"\nlabel = \"男\"\n\n[[codes]]\ncode = \"1\"\ncanonical = \"female\"\nlabel = \"女\"\n",
        );
        write(
            dir.path(),
            "procedures/broken.toml",
            "id = \"x.y\"\nname = \"x\"\ndepartment = \"d\"\nacceptance = \"window\"\nprocessing = \"department\"\n",
        );
        let problems = MappingSet::load_dir(dir.path()).unwrap_err().to_string();
        let lines: Vec<&str> = problems.lines().collect();
        assert_eq!(lines.len(), 2, "{problems}");
        assert!(lines[0].starts_with("codes/sex.toml:9: code \"1\" appears twice"), "{problems}");
        assert!(lines[1].starts_with("procedures/broken.toml:4: unknown variant `window`"), "{problems}");
    }

    #[test]
    fn a_new_procedure_is_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "procedures/inkan.toml",
            "id = \"inkan.touroku\"\nname = \"印鑑登録\"\ndepartment = \"市民課\"\nacceptance = \"one_stop\"\nprocessing = \"backyard_center\"\n",
        );
        let set = MappingSet::load_dir(dir.path()).unwrap();
        assert_eq!(set.catalog().len(), 1);
        assert_eq!(set.catalog().get(&"inkan.touroku".parse().unwrap()).unwrap().pattern(), 1);
    }
}
