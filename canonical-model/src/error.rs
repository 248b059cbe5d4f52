//! Validation errors that say *where* (a field path such as `applicant.address.banchi`) and *which
//! rule* was broken, so a counter app can put the message next to the right input.

use std::fmt;

/// A dotted path to a field in a canonical record, e.g. `applicant.address.banchi` or
/// `applications[2].fields.event_date`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct FieldPath(String);

impl FieldPath {
    /// The empty path: the value itself.
    pub fn root() -> Self {
        Self::default()
    }

    /// A path made of one field name.
    pub fn field(name: &str) -> Self {
        Self(name.to_owned())
    }

    /// `self` with `outer` put in front: `banchi` under `address` becomes `address.banchi`.
    /// Indexes written as `[n]` attach without a dot.
    #[must_use]
    pub fn under(mut self, outer: &str) -> Self {
        if self.0.is_empty() {
            self.0 = outer.to_owned();
        } else if self.0.starts_with('[') {
            self.0.insert_str(0, outer);
        } else {
            self.0.insert(0, '.');
            self.0.insert_str(0, outer);
        }
        self
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() { f.write_str("(value)") } else { f.write_str(&self.0) }
    }
}

/// The rule a value broke. Messages never repeat the value itself: it may be personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rule {
    #[error("is required")]
    Required,
    #[error("must be exactly {0} digits (0-9)")]
    Digits(usize),
    #[error("must be {min} to {max} digits (0-9)")]
    DigitsBetween { min: usize, max: usize },
    #[error("check digit does not match")]
    CheckDigit,
    #[error("is longer than {max} characters")]
    TooLong { max: usize },
    #[error("contains a control character")]
    ControlCharacter,
    #[error("starts with a variation selector that has no base character")]
    DanglingSelector,
    #[error("must be written in full-width katakana")]
    Katakana,
    #[error("is not a valid date ({0})")]
    Date(&'static str),
    #[error("is not within the era {era} ({reason})")]
    Era { era: &'static str, reason: &'static str },
    #[error("is not a known {table} code")]
    UnknownCode { table: &'static str },
    #[error("is not a field of the procedure's form")]
    NotOnForm,
    #[error("reads as an individual number, which only a field declared for one may hold")]
    IndividualNumberNotDeclared,
    #[error("{0}")]
    Other(&'static str),
}

/// One broken rule at one field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {rule}")]
pub struct ValidationError {
    pub path: FieldPath,
    pub rule: Rule,
}

impl ValidationError {
    /// A rule broken by the value itself; callers add the path with [`ValidationError::under`].
    pub fn new(rule: Rule) -> Self {
        Self { path: FieldPath::root(), rule }
    }

    pub fn at(path: &str, rule: Rule) -> Self {
        Self { path: FieldPath::field(path), rule }
    }

    /// Put this error under an outer field: `banchi` → `address.banchi`.
    #[must_use]
    pub fn under(mut self, outer: &str) -> Self {
        self.path = self.path.under(outer);
        self
    }
}

/// Every problem found in one record, in the order the fields were checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn push(&mut self, error: ValidationError) {
        self.0.push(error);
    }

    /// Record the error of `result`, if any, under `field`, and return its value.
    pub fn check<T>(&mut self, field: &str, result: Result<T, ValidationError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.0.push(e.under(field));
                None
            }
        }
    }

    /// Take every error of a nested record under `field`.
    pub fn extend_under(&mut self, field: &str, nested: ValidationErrors) {
        self.0.extend(nested.0.into_iter().map(|e| e.under(field)));
    }

    /// `Ok(())` when nothing was found.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    pub fn iter(&self) -> impl Iterator<Item = &ValidationError> {
        self.0.iter()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<ValidationError> for ValidationErrors {
    fn from(e: ValidationError) -> Self {
        Self(vec![e])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_nest_with_dots_and_indexes() {
        let e = ValidationError::new(Rule::Required).under("banchi").under("address").under("applicant");
        assert_eq!(e.to_string(), "applicant.address.banchi: is required");

        let e = ValidationError::at("event_date", Rule::Date("no such day"))
            .under("fields")
            .under("[2]")
            .under("applications");
        assert_eq!(e.path.as_str(), "applications[2].fields.event_date");
    }

    #[test]
    fn collected_errors_keep_order_and_nesting() {
        let mut inner = ValidationErrors::new();
        inner.push(ValidationError::at("postal_code", Rule::Digits(7)));
        let mut outer = ValidationErrors::new();
        outer.check::<()>("family", Err(ValidationError::new(Rule::Required)));
        outer.extend_under("address", inner);
        assert_eq!(
            outer.to_string(),
            "family: is required; address.postal_code: must be exactly 7 digits (0-9)"
        );
        assert!(outer.into_result().is_err());
        assert!(ValidationErrors::new().into_result().is_ok());
    }
}
