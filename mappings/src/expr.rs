//! CEL expressions in data files, compiled once when the file is loaded, all in one environment.
//!
//! [`Expr`] runs with named variables bound in a [`context`] (routing rules, catalog conditions,
//! [`Template`]s); a mapping's conditions and computed values read the record they apply to by
//! index instead (`crate::record_expr::RecordExpr`).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, OnceLock};

use cel::{Context, ExecutionError, Program, Value};
use serde::Deserialize;

pub use cel;

/// The CEL environment every expression of a mapping set is compiled for and run in — routing
/// rules and catalog conditions ([`Expr`]), mapping conditions and computed values
/// (`RecordExpr`). Built once per process.
pub(crate) fn env() -> Arc<cel::Env> {
    static ENV: OnceLock<Arc<cel::Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = cel::Env::stdlib();
        // replace, split, lowerAscii …: what integrators reach for to tidy a value.
        env.add_extension(cel::extensions::strings)
            .expect("the strings extension adds to the standard library");
        Arc::new(env)
    })
    .clone()
}

/// Compile `source` in the shared environment. The error is CEL's message (its first line:
/// the rest draws a caret under the source).
pub(crate) fn compile_program(source: &str) -> Result<cel::Program, String> {
    env().compile(source).map_err(|e| format!("CEL: {}", first_line(&e.to_string())))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// A compiled CEL expression with its source text. Deserializing compiles it, so a syntax error
/// is reported like any other bad value: with the file and line of the string.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Expr {
    source: String,
    program: Arc<Program>,
}

impl Expr {
    /// Compile `source`. The error is CEL's message, positions relative to the expression.
    pub fn compile(source: &str) -> Result<Expr, String> {
        Ok(Expr { source: source.to_owned(), program: Arc::new(compile_program(source)?) })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The top-level variables the expression reads (`household`, `answers` …), without the
    /// names macros bind (`m` in `household.members.exists(m, m.age >= 75)`).
    pub fn variables(&self) -> BTreeSet<String> {
        let bound = macro_bound_names(&self.source);
        self.program
            .references()
            .variables()
            .into_iter()
            .filter(|v| !bound.contains(*v))
            .map(str::to_owned)
            .collect()
    }

    /// The keys read from `root` with field selection (`answers.nhi_enrolled` → `nhi_enrolled`),
    /// found in the source text. Used to check that a rule declares every question it reads.
    pub fn selected_keys(&self, root: &str) -> BTreeSet<String> {
        selected_keys(&self.source, root)
    }

    /// Run the expression with `variables` bound.
    pub fn eval(&self, context: &Context) -> Result<Value, ExecutionError> {
        self.program.execute(context)
    }
}

/// A context with the shared environment; bind variables with `add_variable_from_value`.
pub fn context() -> Context<'static, 'static> {
    Context::with_env(env())
}

impl TryFrom<String> for Expr {
    type Error = String;
    fn try_from(source: String) -> Result<Self, Self::Error> {
        Expr::compile(&source)
    }
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Expr {}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

/// The names bound by CEL's comprehension macros: the first argument of `.all(`, `.exists(`,
/// `.exists_one(`, `.map(` and `.filter(`.
fn macro_bound_names(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for mac in [".all(", ".exists(", ".exists_one(", ".map(", ".filter("] {
        let mut from = 0;
        while let Some(found) = source[from..].find(mac) {
            let start = from + found + mac.len();
            if let Some(comma) = source[start..].find(',') {
                let name = source[start..start + comma].trim();
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    names.insert(name.to_owned());
                }
            }
            from = start;
        }
    }
    names
}

fn selected_keys(source: &str, root: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let pattern = format!("{root}.");
    let bytes = source.as_bytes();
    let mut from = 0;
    while let Some(found) = source[from..].find(&pattern) {
        let start = from + found;
        let boundary = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let key_start = start + pattern.len();
        let key_len = source[key_start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(source.len() - key_start);
        if boundary && key_len > 0 {
            keys.insert(source[key_start..key_start + key_len].to_owned());
        }
        from = key_start;
    }
    keys
}

/// Text with CEL expressions in braces: `子 {member.age}歳 → 就学`. Each expression is compiled
/// when the file is loaded; strings print as they are, numbers in decimal. `{{` and `}}` are
/// literal braces.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Expr(Expr),
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = source.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|(_, n)| *n == '{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().is_some_and(|(_, n)| *n == '}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let rest = &source[i + 1..];
                    let end = rest.find('}').ok_or_else(|| format!("unclosed '{{' at character {i}"))?;
                    let expr =
                        Expr::compile(&rest[..end]).map_err(|e| format!("in {{{}}}: {e}", &rest[..end]))?;
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Expr(expr));
                    for _ in 0..rest[..=end].chars().count() {
                        chars.next();
                    }
                }
                '}' => return Err(format!("unmatched '}}' at character {i}")),
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template { source: source.to_owned(), parts })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The expressions of the template, in order.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e) => Some(e),
            Part::Text(_) => None,
        })
    }

    pub fn render(&self, context: &Context) -> Result<String, ExecutionError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr(e) => out.push_str(&display(&e.eval(context)?)),
            }
        }
        Ok(out)
    }
}

impl TryFrom<String> for Template {
    type Error = String;
    fn try_from(source: String) -> Result<Self, Self::Error> {
        Template::parse(&source)
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({:?})", self.source)
    }
}

/// A value as text for a form or a reason: strings as they are, null as nothing.
pub fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.as_str().to_owned(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => if *b { "はい" } else { "いいえ" }.to_owned(),
        Value::Null => String::new(),
        Value::List(items) => items.iter().map(display).collect::<Vec<_>>().join("、"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn expressions_compile_once_and_run() {
        let e = Expr::compile("household.members.exists(m, m.age >= 75) && answers.nhi_enrolled").unwrap();
        assert_eq!(e.variables(), BTreeSet::from(["answers".to_owned(), "household".to_owned()]));
        assert_eq!(e.selected_keys("answers"), BTreeSet::from(["nhi_enrolled".to_owned()]));
        let mut ctx = context();
        let member = HashMap::from([("age", Value::Int(80))]);
        ctx.add_variable_from_value("household", HashMap::from([("members", vec![Value::from(member)])]));
        ctx.add_variable_from_value("answers", HashMap::from([("nhi_enrolled", true)]));
        assert_eq!(e.eval(&ctx).unwrap(), Value::Bool(true));
        assert!(Expr::compile("household.members.exists(m, ").unwrap_err().starts_with("CEL: "));
    }

    #[test]
    fn selected_keys_need_a_boundary() {
        let keys = selected_keys("my_answers.x || answers.a_1 == answers.b", "answers");
        assert_eq!(keys, BTreeSet::from(["a_1".to_owned(), "b".to_owned()]));
    }

    #[test]
    fn templates_render_expressions_and_braces() {
        let t = Template::parse("子 {member.age}歳 → 就学 {{注}}").unwrap();
        let mut ctx = context();
        ctx.add_variable_from_value("member", HashMap::from([("age", 6i64)]));
        assert_eq!(t.render(&ctx).unwrap(), "子 6歳 → 就学 {注}");
        assert!(Template::parse("{member.age").unwrap_err().contains("unclosed"));
        assert!(Template::parse("a}b").unwrap_err().contains("unmatched"));
        assert!(Template::parse("{member.}").unwrap_err().starts_with("in {member.}: CEL"));
    }
}
