//! The items of a system's record as a mapping declares them, a record of their values, and the
//! error of applying a mapping to one of them.

use std::fmt;

use crate::spec::{Direction, ItemType};
use crate::value::Value;

/// One item of a system's record, as the mapping declares it.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub name: String,
    pub key: String,
    pub ty: ItemType,
    pub length: usize,
    pub direction: Direction,
    pub required: bool,
    /// The canonical paths it maps (several for a concat).
    pub canonical: Vec<String>,
    /// The rule in words (`code sex → kana half → shrink`), for `try` and `diff`.
    pub rule: String,
    /// Maps both ways through invertible transforms: canonical → system → canonical gives the
    /// value back (unless a shrink was reported for it).
    pub lossless: bool,
    /// Byte offset in a fixed-length record.
    pub offset: usize,
    /// Line of the item in its file.
    pub line: usize,
    pub note: Option<String>,
}

impl Item {
    /// `0101 氏 (shi)`: how errors and reports name the item.
    pub fn label(&self) -> String {
        format!("{} {} ({})", self.id, self.name, self.key)
    }
}

/// What went wrong applying a mapping to one record. Names the record (when the caller gave
/// one), the item and the rule; never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ApplyError {
    pub record: Option<String>,
    /// The item's label, or the canonical path for errors of the canonical record as a whole.
    pub item: String,
    pub rule: String,
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = &self.record {
            write!(f, "record {r}: ")?;
        }
        write!(f, "{}: {}", self.item, self.rule)
    }
}

impl ApplyError {
    #[must_use]
    pub fn in_record(mut self, record: impl fmt::Display) -> Self {
        self.record = Some(record.to_string());
        self
    }
}

/// A record on the system side: one optional value per item, in item order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemRecord {
    pub(crate) values: Vec<Option<Value>>,
}

impl SystemRecord {
    pub fn get(&self, item: usize) -> Option<&Value> {
        self.values.get(item).and_then(Option::as_ref)
    }

    pub fn set(&mut self, item: usize, value: Option<Value>) {
        self.values[item] = value;
    }

    pub fn clear(&mut self) {
        self.values.iter_mut().for_each(|v| *v = None);
    }

    pub fn values(&self) -> &[Option<Value>] {
        &self.values
    }
}
