//! `system/interface` and `system/interface@version`: how procedures, change-feed subscribers,
//! commands and mapping files' own paths name an interface. Read here and nowhere else, so every
//! place accepts the same spellings and refuses the others with the same rule.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use renkei_model::Date;
use serde::{Deserialize, Serialize};

use crate::mapping::{Mapping, MappingId};

/// An interface of a core system, and optionally one version of it. Without a version it means
/// the version in force on a given day, so that a law revision's layout takes over on its 施行日.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InterfaceRef {
    pub system: String,
    pub interface: String,
    pub version: Option<String>,
}

/// Why a string is not an interface reference: the rule, never the string (callers name where
/// it was written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}")]
pub struct InterfaceRefError {
    pub rule: &'static str,
}

const SHAPE: &str = "is neither system/interface nor system/interface@version: write system/interface \
                     (nhi/kisai-henko) or system/interface@version (nhi/kisai-henko@1)";
const NAME: &str =
    "is not lowercase ASCII letters, digits, '-', '_' or '.' (a system or interface starts with a letter)";

/// A system's or interface's name: what mapping files and references may call them.
pub(crate) fn is_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase()) && is_version(s)
}

/// A version: like a name, but it may start with a digit (`1`, `2026.04`).
pub(crate) fn is_version(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

impl InterfaceRef {
    pub fn parse(s: &str) -> Result<InterfaceRef, InterfaceRefError> {
        let shape = InterfaceRefError { rule: SHAPE };
        let (system, rest) = s.split_once('/').ok_or(shape.clone())?;
        let (interface, version) = match rest.split_once('@') {
            Some((interface, version)) => (interface, Some(version)),
            None => (rest, None),
        };
        if system.is_empty() || interface.is_empty() || version.is_some_and(str::is_empty) {
            return Err(shape);
        }
        if !is_name(system) || !is_name(interface) || version.is_some_and(|v| !is_version(v)) {
            return Err(InterfaceRefError { rule: NAME });
        }
        Ok(InterfaceRef {
            system: system.to_owned(),
            interface: interface.to_owned(),
            version: version.map(str::to_owned),
        })
    }

    /// Whether `id` is this interface (and this version, when one is named).
    pub fn names(&self, id: &MappingId) -> bool {
        id.system == self.system
            && id.interface == self.interface
            && self.version.as_ref().is_none_or(|v| *v == id.version)
    }

    /// The mapping meant on `on` among `mappings`: the named version whatever the day, or else
    /// the version in force on `on` (see [`crate::MappingSet::resolve`]).
    pub(crate) fn resolve<'a>(&self, mappings: &'a [Arc<Mapping>], on: Date) -> Option<&'a Arc<Mapping>> {
        let candidates = mappings.iter().filter(|m| self.names(&m.id));
        match self.version {
            Some(_) => candidates.into_iter().next(),
            None => candidates.filter(|m| m.effective_from <= on).max_by_key(|m| m.effective_from),
        }
    }
}

impl FromStr for InterfaceRef {
    type Err = InterfaceRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InterfaceRef::parse(s)
    }
}

impl TryFrom<String> for InterfaceRef {
    type Error = InterfaceRefError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        InterfaceRef::parse(&s)
    }
}

impl From<InterfaceRef> for String {
    fn from(r: InterfaceRef) -> String {
        r.to_string()
    }
}

impl PartialEq<&str> for InterfaceRef {
    fn eq(&self, other: &&str) -> bool {
        InterfaceRef::parse(other).is_ok_and(|o| o == *self)
    }
}

impl fmt::Display for InterfaceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.system, self.interface)?;
        match &self.version {
            Some(v) => write!(f, "@{v}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_read_and_print_back() {
        for s in ["nhi/kisai-henko", "nhi/member@1", "resident-record/atena-diff@2026.04"] {
            assert_eq!(InterfaceRef::parse(s).unwrap().to_string(), s);
        }
        let r = InterfaceRef::parse("nhi/member@1").unwrap();
        assert_eq!(
            (r.system.as_str(), r.interface.as_str(), r.version.as_deref()),
            ("nhi", "member", Some("1"))
        );
    }

    #[test]
    fn anything_else_is_refused_by_its_rule() {
        for s in ["atena-diff", "nhi/", "/member", "nhi/member@", "nhi/a/b", "nhi/member@1@2", ""] {
            let e = InterfaceRef::parse(s).unwrap_err();
            assert!(e.rule == SHAPE || e.rule == NAME, "{s}: {e}");
        }
        assert_eq!(InterfaceRef::parse("atena-diff").unwrap_err().rule, SHAPE);
        assert_eq!(InterfaceRef::parse("Nhi/member").unwrap_err().rule, NAME);
    }
}
