//! Examples inside mapping files: a record on one side and what the mapping must make of it on
//! the other. `renkei mappings test` runs them all, and checks the round trip
//! canonical → system → canonical of every lossless item on the way.

use crate::canonical::CanonicalRecord;
use crate::item::SystemRecord;
use crate::mapping::{Example, Mapping, Report};
use crate::spec::{Direction, ExampleDef};
use crate::value::Value;

/// The outcome of one example.
#[derive(Debug, Clone)]
pub struct ExampleResult {
    pub name: String,
    pub line: usize,
    /// Empty when the example passed.
    pub failures: Vec<String>,
}

fn toml_to_json(table: &toml::Table) -> serde_json::Value {
    serde_json::to_value(table).unwrap_or(serde_json::Value::Null)
}

impl Example {
    pub(crate) fn read(mapping: &Mapping, def: &ExampleDef) -> Result<Example, String> {
        let canonical = def
            .canonical
            .as_ref()
            .map(|t| {
                CanonicalRecord::from_json(mapping.schema(), &toml_to_json(t))
                    .map_err(|e| format!("canonical: {e}"))
            })
            .transpose()?;
        let read_system = |what: &str, t: &toml::Table| match toml_to_json(t) {
            serde_json::Value::Object(map) => {
                mapping.system_from_json(&map).map_err(|e| format!("{what}: {e}"))
            }
            _ => Err(format!("{what}: must be a table")),
        };
        let system = def.system.as_ref().map(|t| read_system("system", t)).transpose()?;
        let records = def
            .records
            .iter()
            .enumerate()
            .map(|(i, t)| read_system(&format!("records[{i}]"), t))
            .collect::<Result<Vec<_>, _>>()?;
        if !records.is_empty() && (system.is_some() || def.direction != Direction::ToSystem) {
            return Err(
                "records (one per subject) replace system, and are mapped to the system only (direction = \"to_system\")"
                    .into(),
            );
        }
        let mut degenerated = Vec::new();
        for key in &def.degenerated {
            degenerated.push(
                mapping.item_index(key).ok_or_else(|| format!("degenerated: no item has key {key:?}"))?,
            );
        }
        let needs_canonical = def.direction.to_system() || def.error.is_none();
        let needs_system = def.direction.to_canonical() || def.error.is_none();
        match (&canonical, &system, &def.error) {
            (None, _, _) if def.direction.to_system() && needs_canonical => {
                return Err("needs a canonical record to map to the system".into());
            }
            (_, None, None) if needs_system && records.is_empty() => {
                return Err("needs the system record the mapping must give".into());
            }
            _ => {}
        }
        if def.error.is_some() && def.direction == Direction::Both {
            return Err(
                "an example that expects an error says its direction (to_system or to_canonical)".into()
            );
        }
        Ok(Example {
            name: def.name.clone(),
            line: 0,
            direction: def.direction,
            canonical,
            system,
            records,
            degenerated,
            error: def.error.clone(),
        })
    }

    pub(crate) fn at_line(mut self, line: usize) -> Self {
        self.line = line;
        self
    }
}

impl Mapping {
    /// Run every example of this mapping.
    pub fn run_examples(&self) -> Vec<ExampleResult> {
        self.examples.iter().map(|e| self.run_example(e)).collect()
    }

    fn run_example(&self, ex: &Example) -> ExampleResult {
        let mut failures = Vec::new();
        if let Some(expected_error) = &ex.error {
            let outcome = if ex.direction == Direction::ToSystem {
                let mut out = self.new_system();
                let canonical = ex.canonical.as_ref().expect("checked when read");
                self.application_records(canonical).and_then(|records| {
                    records.iter().try_for_each(|r| self.to_system(r, &mut out, &mut Report::default()))
                })
            } else {
                let mut out = self.new_canonical();
                let system = ex.system.as_ref().expect("checked when read");
                self.to_canonical(system, &mut out)
            };
            match outcome {
                Ok(()) => {
                    failures.push(format!("expected an error containing {expected_error:?}; it mapped"))
                }
                Err(e) if !e.to_string().contains(expected_error.as_str()) => {
                    failures.push(format!("expected an error containing {expected_error:?}; got: {e}"))
                }
                Err(_) => {}
            }
            return ExampleResult { name: ex.name.clone(), line: ex.line, failures };
        }
        let expected_records: Vec<&SystemRecord> =
            if ex.records.is_empty() { ex.system.iter().collect() } else { ex.records.iter().collect() };
        let records = match (&ex.canonical, ex.direction.to_system() && !expected_records.is_empty()) {
            (Some(canonical), true) => match self.application_records(canonical) {
                Ok(records) => records,
                Err(e) => {
                    failures.push(format!("to system: {e}"));
                    Vec::new()
                }
            },
            _ => Vec::new(),
        };
        if !records.is_empty() && records.len() != expected_records.len() {
            failures.push(format!(
                "to system: the application makes {} record(s), the example expects {}",
                records.len(),
                expected_records.len()
            ));
        }
        for (canonical, expected) in records.iter().zip(expected_records) {
            let mut out = self.new_system();
            let mut report = Report::default();
            match self.to_system(canonical, &mut out, &mut report) {
                Err(e) => failures.push(format!("to system: {e}")),
                Ok(()) => {
                    for (i, item) in self.items.iter().enumerate() {
                        if out.get(i) != expected.get(i) {
                            failures.push(format!(
                                "to system: {}: got {}, expected {}",
                                item.label(),
                                show(out.get(i)),
                                show(expected.get(i))
                            ));
                        }
                    }
                    let mut shrunk: Vec<usize> = report.degenerations.iter().map(|d| d.item).collect();
                    shrunk.dedup();
                    if shrunk != ex.degenerated {
                        let keys =
                            |v: &[usize]| v.iter().map(|i| self.items[*i].key.clone()).collect::<Vec<_>>();
                        failures.push(format!(
                            "to system: shrunk items {:?}, the example says {:?}",
                            keys(&shrunk),
                            keys(&ex.degenerated)
                        ));
                    }
                    if let Err(e) = self.encode(&out, &mut Vec::new()) {
                        failures.push(format!("to system: writing the record: {e}"));
                    }
                    failures.extend(self.round_trip_failures(canonical, &out, &report));
                }
            }
        }
        if ex.direction.to_canonical()
            && let (Some(system), Some(expected)) = (&ex.system, &ex.canonical)
        {
            let mut out = self.new_canonical();
            match self.to_canonical(system, &mut out) {
                Err(e) => failures.push(format!("to canonical: {e}")),
                Ok(()) => {
                    for slot in self.written_slots() {
                        if ex
                            .degenerated
                            .iter()
                            .any(|i| self.items[*i].canonical.contains(&self.schema.path(slot)))
                        {
                            continue;
                        }
                        if out.get_slot(slot) != expected.get_slot(slot) {
                            failures.push(format!(
                                "to canonical: {}: got {}, expected {}",
                                self.schema.path(slot),
                                show(out.get_slot(slot)),
                                show(expected.get_slot(slot))
                            ));
                        }
                    }
                }
            }
        }
        ExampleResult { name: ex.name.clone(), line: ex.line, failures }
    }

    /// The canonical slots this mapping writes when reading a system record.
    fn written_slots(&self) -> Vec<usize> {
        let mut slots: Vec<usize> = self
            .items
            .iter()
            .filter(|i| i.direction.to_canonical())
            .flat_map(|i| i.canonical.iter())
            .filter_map(|p| self.schema.slot(p))
            .collect();
        slots.sort_unstable();
        slots.dedup();
        slots
    }

    /// Canonical → system (`system`, already made) → canonical: every lossless item whose value
    /// was not shrunk must come back as it was.
    pub fn round_trip_failures(
        &self,
        canonical: &CanonicalRecord,
        system: &SystemRecord,
        report: &Report,
    ) -> Vec<String> {
        let mut back = self.new_canonical();
        if let Err(e) = self.to_canonical(system, &mut back) {
            return vec![format!("round trip: reading back: {e}")];
        }
        let mut failures = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            if !item.lossless || report.degenerated(i) || system.get(i).is_none() {
                continue;
            }
            for path in &item.canonical {
                let (before, after) = (canonical.get(path), back.get(path));
                if before.is_some_and(|v| !v.is_empty()) && before != after {
                    failures.push(format!(
                        "round trip: {} ({path}) is declared lossless but came back {} instead of {}",
                        item.label(),
                        show(after),
                        show(before)
                    ));
                }
            }
        }
        failures
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "nothing".into(),
        Some(Value::Text(t)) => format!(
            "{:?}",
            renkei_model::MojiText::new(t.as_str()).map(|m| m.escaped()).unwrap_or_else(|_| t.clone())
        ),
        Some(other) => format!("{:?}", other.to_text()),
    }
}
