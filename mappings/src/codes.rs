//! Code tables (`codes/*.toml`): a core system's code for a value ↔ renkei's canonical name for it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: code-table keys are a few bytes long, where SipHash's set-up dominates; the tables
/// are the integrator's own data, not an attacker's.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FastMap<V> = HashMap<String, V, BuildHasherDefault<Fnv>>;

use serde::Deserialize;

use crate::problem::{Problem, line_of};
use crate::source::SourceFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeTableFile {
    id: String,
    name: String,
    #[serde(default)]
    source: Option<String>,
    codes: Vec<toml::Spanned<CodeEntry>>,
}

/// One code of a table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeEntry {
    /// The system's value, as it appears in records.
    pub code: String,
    /// renkei's name for the value (`male`), stable across systems.
    pub canonical: String,
    /// What staff read (男).
    pub label: String,
}

/// A loaded code table, indexed both ways.
#[derive(Debug, Clone)]
pub struct CodeTable {
    pub id: String,
    pub name: String,
    pub source: Option<String>,
    entries: Vec<CodeEntry>,
    by_code: FastMap<usize>,
    by_canonical: FastMap<usize>,
    by_label: FastMap<usize>,
}

impl CodeTable {
    pub(crate) fn load(file: &SourceFile) -> Result<CodeTable, Vec<Problem>> {
        let problem = |line, message| Problem { file: file.path.clone(), line, message };
        let parsed: CodeTableFile = file.parse_toml().map_err(|p| vec![p])?;
        let mut problems = Vec::new();
        let mut table = CodeTable {
            id: parsed.id,
            name: parsed.name,
            source: parsed.source,
            entries: Vec::with_capacity(parsed.codes.len()),
            by_code: FastMap::default(),
            by_canonical: FastMap::default(),
            by_label: FastMap::default(),
        };
        for spanned in parsed.codes {
            let line = Some(line_of(&file.text, spanned.span().start));
            let entry = spanned.into_inner();
            let index = table.entries.len();
            if table.by_code.insert(entry.code.clone(), index).is_some() {
                problems.push(problem(
                    line,
                    format!("code {:?} appears twice in table {}", entry.code, table.id),
                ));
            }
            if table.by_canonical.insert(entry.canonical.clone(), index).is_some() {
                problems.push(problem(
                    line,
                    format!("canonical value {:?} appears twice in table {}", entry.canonical, table.id),
                ));
            }
            // Labels may repeat (two codes printed alike); the first is the one read back.
            table.by_label.entry(entry.label.clone()).or_insert(index);
            table.entries.push(entry);
        }
        if problems.is_empty() { Ok(table) } else { Err(problems) }
    }

    /// The entry for a system's code.
    pub fn by_code(&self, code: &str) -> Option<&CodeEntry> {
        self.by_code.get(code).map(|i| &self.entries[*i])
    }

    /// The entry for a canonical value.
    pub fn by_canonical(&self, canonical: &str) -> Option<&CodeEntry> {
        self.by_canonical.get(canonical).map(|i| &self.entries[*i])
    }

    /// The entry whose label is `label` (for systems that send the label, such as 異動事由 as text).
    pub fn by_label(&self, label: &str) -> Option<&CodeEntry> {
        self.by_label.get(label).map(|i| &self.entries[*i])
    }

    pub fn entries(&self) -> &[CodeEntry] {
        &self.entries
    }
}
