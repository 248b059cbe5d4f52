//! The values a mapping moves: text, dates and lists of text.

use std::fmt;

use renkei_model::Date;

/// One value of a record, on either side of a mapping.
///
/// System records hold text only (and lists, for JSON arrays); canonical records also hold
/// dates, so a date read as `YYYYMMDD` and written as wareki is never reparsed in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Date(Date),
    List(Vec<String>),
}

impl Value {
    /// The value as text: a date as `YYYY-MM-DD`, a list joined by `,`.
    pub fn to_text(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::Date(d) => d.to_string(),
            Value::List(l) => l.join(","),
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// Empty text and empty lists count as absent: core systems write "no value" as an empty
    /// item, and renkei does not tell the two apart.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Text(t) => t.is_empty(),
            Value::Date(_) => false,
            Value::List(l) => l.is_empty(),
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Text(t) => serde_json::Value::String(t.clone()),
            Value::Date(d) => serde_json::Value::String(d.to_string()),
            Value::List(l) => l.iter().cloned().map(serde_json::Value::String).collect(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// What kind of value a canonical path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    Date,
    List,
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueKind::Text => "text",
            ValueKind::Date => "date",
            ValueKind::List => "list",
        })
    }
}
