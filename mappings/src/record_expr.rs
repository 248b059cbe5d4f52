//! Conditions and computed values: CEL expressions (the `cel` crate), compiled once when the
//! mapping is compiled.
//!
//! An expression sees the record it reads as variables named by the first segment of each path:
//! on the canonical side `name.family`, `address.banchi`, `fields["event_date"]`; on the system
//! side the items' keys (`jusho.dantai_code`). Absent values are `null`; dates are
//! `"YYYY-MM-DD"` strings, which compare in date order. The standard library and the strings
//! extension (`replace`, `split`, `substring`, `lowerAscii` …) are available.

use std::collections::HashMap;

use crate::expr::{compile_program, env};
use crate::value::Value;

/// A compiled expression and the values it reads.
#[derive(Debug)]
pub(crate) struct RecordExpr {
    source: String,
    program: cel::Program,
    /// Per variable the expression references: its name and the values under it.
    vars: Vec<(String, Vec<Leaf>)>,
}

/// A value under a variable: its path below the variable (empty: the variable itself) and its
/// index in the record.
type Leaf = (Vec<String>, usize);

/// Split a path into CEL segments: `fields.new_address.banchi` is `fields` + one key.
fn segments(path: &str) -> Vec<String> {
    match path.strip_prefix("fields.") {
        Some(rest) => vec!["fields".to_owned(), rest.to_owned()],
        None => path.split('.').map(str::to_owned).collect(),
    }
}

impl RecordExpr {
    /// Compile `source` against the paths of the record it will read (`(path, index)`). Refused:
    /// syntax errors and variables that are not the head of any path.
    pub(crate) fn compile(source: &str, paths: &[(String, usize)]) -> Result<RecordExpr, String> {
        let program = compile_program(source)?;
        let mut vars = Vec::new();
        for var in program.references().variables() {
            let under: Vec<Leaf> = paths
                .iter()
                .filter_map(|(path, index)| {
                    let segs = segments(path);
                    (segs[0] == var).then(|| (segs[1..].to_vec(), *index))
                })
                .collect();
            if under.is_empty() {
                return Err(format!("CEL: `{var}` is not a field of the record this expression reads"));
            }
            vars.push((var.to_string(), under));
        }
        Ok(RecordExpr { source: source.to_owned(), program, vars })
    }

    /// The variables the expression reads.
    pub(crate) fn variables(&self) -> impl Iterator<Item = &str> {
        self.vars.iter().map(|(name, _)| name.as_str())
    }

    fn run(&self, values: &[Option<Value>]) -> Result<cel::Value, String> {
        let mut context = cel::Context::with_env(env());
        for (name, under) in &self.vars {
            let value = if under.len() == 1 && under[0].0.is_empty() {
                to_cel(values[under[0].1].as_ref())
            } else {
                let mut root: HashMap<String, cel::Value> = HashMap::new();
                for (segs, index) in under {
                    insert(&mut root, segs, to_cel(values[*index].as_ref()));
                }
                root.into()
            };
            context.add_variable_from_value(name.clone(), value);
        }
        self.program.execute(&context).map_err(|e| format!("CEL `{}`: {e}", self.source))
    }

    /// Evaluate as a condition.
    pub(crate) fn test(&self, values: &[Option<Value>]) -> Result<bool, String> {
        match self.run(values)? {
            cel::Value::Bool(b) => Ok(b),
            other => Err(format!(
                "CEL `{}`: a condition must be true or false, not {:?}",
                self.source,
                other.type_of()
            )),
        }
    }

    /// Evaluate as a computed value; `null` is no value.
    pub(crate) fn compute(&self, values: &[Option<Value>]) -> Result<Option<Value>, String> {
        Ok(match self.run(values)? {
            cel::Value::Null => None,
            cel::Value::String(s) => Some(Value::Text(s.to_string())),
            cel::Value::Int(i) => Some(Value::Text(i.to_string())),
            cel::Value::UInt(i) => Some(Value::Text(i.to_string())),
            cel::Value::Bool(b) => Some(Value::Text(b.to_string())),
            cel::Value::Float(f) => Some(Value::Text(f.to_string())),
            cel::Value::List(items) => Some(Value::List(
                items
                    .iter()
                    .map(|v| match v {
                        cel::Value::String(s) => s.to_string(),
                        other => format!("{other:?}"),
                    })
                    .collect(),
            )),
            other => {
                return Err(format!(
                    "CEL `{}`: a computed value must be text or a number, not {:?}",
                    self.source,
                    other.type_of()
                ));
            }
        })
    }
}

fn to_cel(value: Option<&Value>) -> cel::Value {
    match value {
        None => cel::Value::Null,
        Some(Value::Text(t)) => cel::Value::from(t.as_str()),
        Some(Value::Date(d)) => cel::Value::from(d.to_string()),
        Some(Value::List(l)) => cel::Value::from(l.clone()),
    }
}

fn insert(map: &mut HashMap<String, cel::Value>, segs: &[String], value: cel::Value) {
    match segs {
        [] => {}
        [last] => {
            map.insert(last.clone(), value);
        }
        [head, rest @ ..] => {
            // Nested maps are built bottom-up: collect the child, then store it.
            let mut child = match map.remove(head) {
                Some(cel::Value::Map(m)) => m
                    .map
                    .iter()
                    .map(|(k, v)| (key_string(k), v.clone()))
                    .collect::<HashMap<String, cel::Value>>(),
                _ => HashMap::new(),
            };
            insert(&mut child, rest, value);
            map.insert(head.clone(), child.into());
        }
    }
}

fn key_string(k: &cel::objects::Key) -> String {
    match k {
        cel::objects::Key::String(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Vec<(String, usize)> {
        vec![
            ("nationality.kind".into(), 0),
            ("name.family".into(), 1),
            ("fields.new_address.banchi".into(), 2),
            ("birth_date".into(), 3),
        ]
    }

    #[test]
    fn conditions_and_computed_values_read_the_record() {
        let values = vec![
            Some(Value::Text("foreign".into())),
            Some(Value::Text("KIM".into())),
            None,
            Some(Value::Date(renkei_model::Date::from_ymd(2019, 5, 1).unwrap())),
        ];
        let e = RecordExpr::compile("nationality.kind == 'foreign' && birth_date >= '2019-05-01'", &paths())
            .unwrap();
        assert!(e.test(&values).unwrap());
        let e =
            RecordExpr::compile("fields['new_address.banchi'] == null ? 'none' : 'some'", &paths()).unwrap();
        assert_eq!(e.compute(&values).unwrap(), Some(Value::Text("none".into())));
        let e = RecordExpr::compile("name.family + '様'", &paths()).unwrap();
        assert_eq!(e.compute(&values).unwrap(), Some(Value::Text("KIM様".into())));
    }

    #[test]
    fn refuses_bad_syntax_and_unknown_variables() {
        assert!(RecordExpr::compile("name.family ==", &paths()).unwrap_err().starts_with("CEL: "));
        let e = RecordExpr::compile("adress.banchi == ''", &paths()).unwrap_err();
        assert!(e.contains("`adress` is not a field"), "{e}");
        let e = RecordExpr::compile("name.family", &paths()).unwrap();
        assert!(e.test(&[None, Some(Value::Text("x".into())), None, None]).is_err());
    }
}
