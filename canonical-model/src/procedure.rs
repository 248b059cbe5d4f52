//! Procedures (手続): what a resident applies for, where it is accepted and where it is processed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Rule, ValidationError};

/// A procedure's id in the catalog: lowercase ASCII words joined by `.`, `-` or `_`
/// (`jumin.idou`, `nhi.join`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProcedureId(String);

impl ProcedureId {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'));
        if !ok {
            return Err(ValidationError::new(Rule::Other(
                "must be lowercase ASCII letters, digits, '.', '-' or '_', starting with a letter",
            )));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ProcedureId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProcedureId::parse(s)
    }
}

impl TryFrom<String> for ProcedureId {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ProcedureId::parse(&s)
    }
}

impl From<ProcedureId> for String {
    fn from(id: ProcedureId) -> Self {
        id.0
    }
}

impl fmt::Display for ProcedureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the application is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Acceptance {
    /// At the one-stop window (市民課 / 総合窓口).
    OneStop,
    /// Only at the owning department's window.
    Department,
}

/// Where the application is processed after it is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Processing {
    /// At a backyard center (行政事務センター).
    BackyardCenter,
    /// By the owning department.
    Department,
}

/// The four patterns of the write-free counter: acceptance × processing.
///
/// | pattern | accepted at | processed at |
/// |---|---|---|
/// | 1 | one-stop | backyard center |
/// | 2 | one-stop | department |
/// | 3 | department | backyard center |
/// | 4 | department | department |
pub fn pattern(acceptance: Acceptance, processing: Processing) -> u8 {
    match (acceptance, processing) {
        (Acceptance::OneStop, Processing::BackyardCenter) => 1,
        (Acceptance::OneStop, Processing::Department) => 2,
        (Acceptance::Department, Processing::BackyardCenter) => 3,
        (Acceptance::Department, Processing::Department) => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procedure_ids() {
        assert!(ProcedureId::parse("jumin.idou").is_ok());
        assert!(ProcedureId::parse("nhi.join-2").is_ok());
        for bad in ["", "Jumin", "1nhi", "住民異動", "a b"] {
            assert!(ProcedureId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn four_patterns() {
        let (one_stop, dept_window) = (Acceptance::OneStop, Acceptance::Department);
        let (backyard, dept) = (Processing::BackyardCenter, Processing::Department);
        let all = [(one_stop, backyard), (one_stop, dept), (dept_window, backyard), (dept_window, dept)];
        let numbers: Vec<u8> = all.iter().map(|(a, p)| pattern(*a, *p)).collect();
        assert_eq!(numbers, [1, 2, 3, 4]);
    }
}
