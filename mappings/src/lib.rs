//! renkei's integrator-edited data: mappings of the core systems' interfaces (`systems/`), code
//! tables (`codes/`), the procedure catalog (`procedures/`) and the life-event routing rules
//! (`routing/`), loaded, checked and compiled once; and what runs over them at the counter:
//! [`planning`] (a life event and a household → the procedures needed) and [`prefill`] (a
//! procedure's form filled from what is known, each value with its provenance).
//!
//! The default set is compiled in ([`MappingSet::embedded`]); operators point the gateway at
//! their own copy ([`MappingSet::load_dir`]). Loading reports every problem with its file and
//! line, and a set with any problem is refused as a whole.
//!
//! A mapping is compiled into a plan once; an adapter keeps the [`Mapping`] and applies it per
//! record ([`Mapping::decode`] → [`Mapping::to_canonical`], [`Mapping::to_system`] →
//! [`Mapping::encode`]) with no parsing of the mapping and no look-ups by name.
//!
//! ```
//! use renkei_mappings::{MappingSet, Report};
//!
//! let set = MappingSet::embedded().unwrap();
//! let idou = set.catalog().get(&"jumin.idou".parse().unwrap()).unwrap();
//! assert_eq!(idou.name, "住民異動届");
//! assert_eq!(set.code_table("sex").unwrap().by_code("2").unwrap().label, "女");
//!
//! let atena = set.mapping_by_id("resident-record/atena@1").unwrap();
//! let json = r#"{"atena_no":"0000000019","setai_no":"0000000019","shi":"髙橋","mei":"ハル",
//!   "seinengappi":"19261225","seibetsu":"2","zokugara":"世帯主","jumin_shubetsu":"1","jumin_jotai":"1"}"#;
//! let mut system = atena.new_system();
//! atena.decode(json.as_bytes(), &mut system).unwrap();
//! let mut resident = atena.new_canonical();
//! atena.to_canonical(&system, &mut resident).unwrap();
//! assert_eq!(resident.get("name.family").unwrap().to_text(), "髙橋");
//!
//! let nhi = set.mapping_by_id("nhi/member@1").unwrap();
//! let (mut out, mut report, mut bytes) = (nhi.new_system(), Report::default(), Vec::new());
//! nhi.to_system(&resident, &mut out, &mut report).unwrap();
//! nhi.encode(&out, &mut bytes).unwrap();
//! assert_eq!(report.degenerations[0].degeneration.to, "高"); // 髙 is not in JIS X 0208
//! ```

mod canonical;
mod catalog;
mod charset;
mod codec;
mod codes;
mod compile;
pub mod convert;
pub mod diff;
mod examples;
pub mod expr;
mod item;
mod layout;
mod mapping;
pub mod planning;
pub mod prefill;
mod problem;
mod record_expr;
mod reference;
pub mod routing;
mod source;
mod spec;
mod value;
mod xml;
mod xml_codec;

#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod round_trip_tests;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

pub use canonical::{CanonicalKind, CanonicalRecord, PathDef, PathError, Schema};
pub use catalog::{
    Catalog, FormField, MappingChoice, MappingChoiceError, MappingRef, PREFILL_VARIABLES, ProcedureDef,
};
pub use charset::{Charset, Degeneration, NoCode, Shrink};
pub use codes::{CodeEntry, CodeTable};
pub use examples::ExampleResult;
pub use item::{ApplyError, Item, SystemRecord};
pub use mapping::{FieldDegeneration, FormRead, Mapping, MappingId, Report};
pub use problem::{Problem, Problems};
pub use reference::{InterfaceRef, InterfaceRefError};
pub use routing::RoutingRules;
pub use source::SourceFile;
pub use spec::{DateFormat, Direction, Format, ItemType, Records, Separator};
pub use value::{Value, ValueKind};
pub use xml::{ItemPositions, XmlLayout, XmlNode, XmlRecordError};

use renkei_model::Date;

/// A checked, compiled mapping set.
#[derive(Debug, Clone)]
pub struct MappingSet {
    code_tables: BTreeMap<String, Arc<CodeTable>>,
    catalog: Catalog,
    routing: RoutingRules,
    mappings: Vec<Arc<Mapping>>,
    schemas: HashMap<CanonicalKind, Arc<Schema>>,
    version: String,
}

impl MappingSet {
    /// The default set compiled into the binary.
    pub fn embedded() -> Result<MappingSet, Problems> {
        Self::from_files(
            source::embedded("codes"),
            source::embedded("procedures"),
            source::embedded("systems"),
            source::embedded("routing"),
        )
    }

    /// An operator's copy: `DIR/codes/*.toml`, `DIR/procedures/*.toml`, `DIR/routing/*.toml` and
    /// `DIR/systems/<system>/<interface>@<version>.toml`.
    pub fn load_dir(root: &Path) -> Result<MappingSet, Problems> {
        let mut problems = Vec::new();
        let mut read = |subdir| {
            source::directory(root, subdir).unwrap_or_else(|p| {
                problems.push(p);
                Vec::new()
            })
        };
        let (codes, procedures, systems, routing) =
            (read("codes"), read("procedures"), read("systems"), read("routing"));
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        Self::from_files(codes, procedures, systems, routing)
    }

    fn from_files(
        codes: Vec<SourceFile>,
        procedures: Vec<SourceFile>,
        systems: Vec<SourceFile>,
        routing: Vec<SourceFile>,
    ) -> Result<MappingSet, Problems> {
        let version = fingerprint(codes.iter().chain(&procedures).chain(&systems).chain(&routing));
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
                        code_tables.insert(table.id.clone(), Arc::new(table));
                    }
                }
                Err(p) => problems.extend(p),
            }
        }
        let catalog = Catalog::load(&procedures).unwrap_or_else(|p| {
            problems.extend(p);
            Catalog::default()
        });

        // Pass 1: parse every mapping and gather the form-field names of each canonical kind, so
        // all mappings of a kind share one slot layout (a record read through one mapping can be
        // written through another).
        let mut parsed = Vec::new();
        for file in systems {
            match compile::Parsed::parse(file) {
                Ok(p) => parsed.push(p),
                Err(p) => problems.extend(p),
            }
        }
        let schemas: HashMap<CanonicalKind, Arc<Schema>> = CanonicalKind::ALL
            .into_iter()
            .map(|kind| {
                let fields =
                    parsed.iter().filter(|p| p.kind() == kind).flat_map(|p| p.field_names()).collect();
                (kind, Arc::new(Schema::new(kind, fields)))
            })
            .collect();
        // Pass 2: check and compile.
        let mut mappings: Vec<Arc<Mapping>> = Vec::new();
        for p in parsed {
            match compile::compile(p, &schemas, &code_tables) {
                Ok(m) => {
                    let clash = mappings.iter().find(|o| {
                        o.id.system == m.id.system
                            && o.id.interface == m.id.interface
                            && (o.id.version == m.id.version || o.effective_from == m.effective_from)
                    });
                    if let Some(other) = clash {
                        problems.push(Problem {
                            file: m.file.clone(),
                            line: None,
                            message: format!(
                                "{} takes effect on {} like {} ({}): versions of an interface need distinct versions and dates",
                                m.id,
                                m.effective_from,
                                other.id,
                                other.file.display()
                            ),
                        });
                    } else {
                        mappings.push(Arc::new(m));
                    }
                }
                Err(p) => problems.extend(p),
            }
        }
        problems.extend(catalog.check_mappings(|system, interface| {
            mappings
                .iter()
                .filter(|m| m.id.system == system && m.id.interface == interface)
                .map(|m| m.as_ref())
                .collect()
        }));
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        // Routing rules name procedures of the catalog: read them once the rest is sound.
        let routing = RoutingRules::load(&routing, &catalog).map_err(Problems)?;
        Ok(MappingSet { code_tables, catalog, routing, mappings, schemas, version })
    }

    pub fn code_table(&self, id: &str) -> Option<&CodeTable> {
        self.code_tables.get(id).map(|t| t.as_ref())
    }

    pub fn code_tables(&self) -> impl Iterator<Item = &CodeTable> {
        self.code_tables.values().map(|t| t.as_ref())
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The life-event routing rules (`routing/`).
    pub fn routing(&self) -> &RoutingRules {
        &self.routing
    }

    /// Every mapping of the set, in file order.
    pub fn mappings(&self) -> impl Iterator<Item = &Arc<Mapping>> {
        self.mappings.iter()
    }

    /// The version of `system`'s `interface` in force on `on`: the one with the latest
    /// `effective_from` not after `on` (a law revision ships as a new version that takes over
    /// on its 施行日).
    pub fn mapping(&self, system: &str, interface: &str, on: Date) -> Option<&Arc<Mapping>> {
        self.mappings
            .iter()
            .filter(|m| m.id.system == system && m.id.interface == interface && m.effective_from <= on)
            .max_by_key(|m| m.effective_from)
    }

    /// The mapping `reference` means on `on`: the version it names, or else the version of its
    /// interface in force on `on`.
    pub fn resolve(&self, reference: &InterfaceRef, on: Date) -> Option<&Arc<Mapping>> {
        reference.resolve(&self.mappings, on)
    }

    /// `system/interface@version`.
    pub fn mapping_by_id(&self, id: &str) -> Option<&Arc<Mapping>> {
        self.mappings.iter().find(|m| m.id.to_string() == id)
    }

    /// The mapping read from `file` (relative to the set's root).
    pub fn mapping_by_file(&self, file: &Path) -> Option<&Arc<Mapping>> {
        self.mappings.iter().find(|m| m.file == file)
    }

    /// The slot layout of canonical records of `kind` in this set.
    pub fn schema(&self, kind: CanonicalKind) -> &Arc<Schema> {
        &self.schemas[&kind]
    }

    /// Identifies the set's content: the same files give the same version.
    pub fn version(&self) -> &str {
        &self.version
    }
}

/// FNV-1a over every file's path and text: a stable identifier of a set's content (the same
/// files give the same version in every process and build).
fn fingerprint<'a>(files: impl Iterator<Item = &'a SourceFile>) -> String {
    use std::hash::Hasher;
    let mut hasher = codes::Fnv::default();
    for file in files {
        hasher.write(file.path.to_string_lossy().as_bytes());
        hasher.write(&[0]);
        hasher.write(file.text.as_bytes());
        hasher.write(&[0]);
    }
    format!("{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_of_the_default_set_passes() {
        let set = MappingSet::embedded().unwrap_or_else(|p| panic!("{p}"));
        let mut failures = Vec::new();
        for m in set.mappings() {
            for r in m.run_examples() {
                for f in &r.failures {
                    failures.push(format!("{}:{}: {}: {f}", m.file.display(), r.line, r.name));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

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
