//! Planning: a life event, the household as the resident record holds it and the
//! questionnaire's answers, run through the routing rules of the mapping set → the procedures
//! the resident needs, each with why, and the questions whose answers could still change the plan.
//!
//! Rules are data (`mappings/routing/`); this module binds their variables and runs them. A rule
//! whose condition reads an unanswered question is undecided: its question is returned instead
//! of a guess, and the counter re-plans once it is answered. Conditions are evaluated left to
//! right, so a rule that reads household facts first asks nothing when the facts already rule
//! it out.

pub mod facts;

use std::collections::{BTreeMap, HashMap};

use crate::expr::cel::{ExecutionError, Value};
use crate::expr::context;
use crate::routing::{Answer, Each, Question, Rule};
use crate::{MappingSet, ProcedureDef};
use renkei_model::{
    Acceptance, AtenaNumber, Date, Household, LifeEvent, Rule as Broken, ValidationError, ValidationErrors,
};

/// A procedure in a plan.
#[derive(Debug, Clone)]
pub struct Planned<'a> {
    pub def: &'a ProcedureDef,
    /// One line per rule (and member) that planned it.
    pub reasons: Vec<String>,
    /// The members it is for: the matching members of per-member rules, else the event's subject.
    pub subjects: Vec<AtenaNumber>,
    /// The ids of the rules that planned it.
    pub rules: Vec<&'a str>,
}

impl Planned<'_> {
    /// The reasons on one line, for the wire and the guide.
    pub fn reason(&self) -> String {
        self.reasons.join("／")
    }
}

/// The procedures for a visit, in the order the resident goes through them: the one-stop
/// window first, then each department's window.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    pub event: LifeEvent,
    pub procedures: Vec<Planned<'a>>,
    /// Questions still unanswered whose answer could add procedures.
    pub questions: Vec<&'a Question>,
}

/// Why no plan was made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Answers that name no question or do not fit it, with their paths (`answers.pregnant`).
    #[error("{0}")]
    Answers(ValidationErrors),
    /// The person the event concerns is not in the household given.
    #[error("the subject is not a member of the household")]
    SubjectNotInHousehold,
    /// A rule failed at run time: a mistake in the rule file, reported with where it is.
    #[error("routing rule {rule} ({at}): {message}")]
    Rule { rule: String, at: String, message: String },
}

/// The questionnaire's answers checked against the set's questions, as CEL sees them.
pub fn read_answers(set: &MappingSet, answers: &BTreeMap<String, String>) -> Result<Value, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let mut values: HashMap<String, Value> = HashMap::new();
    for (id, text) in answers {
        match set.routing().question(id) {
            None => errors
                .push(ValidationError::at(id, Broken::Other("no question has this id")).under("answers")),
            Some(q) => match q.read(text) {
                Ok(Answer::Yes(b)) => {
                    values.insert(id.clone(), Value::Bool(b));
                }
                Ok(Answer::Choice(c)) => {
                    values.insert(id.clone(), Value::String(c.into()));
                }
                Err(rule) => errors.push(ValidationError::at(id, Broken::Other(rule)).under("answers")),
            },
        }
    }
    errors.into_result()?;
    Ok(Value::from(values))
}

/// What one rule decided for one binding.
enum Outcome {
    Holds,
    DoesNot,
    /// The condition read this unanswered question.
    Asks(String),
}

fn decide(rule: &Rule, ctx: &crate::expr::cel::Context, answered: &Value) -> Result<Outcome, PlanError> {
    let Some(when) = &rule.when else {
        return Ok(Outcome::Holds);
    };
    match when.eval(ctx) {
        Ok(Value::Bool(true)) => Ok(Outcome::Holds),
        Ok(Value::Bool(false)) => Ok(Outcome::DoesNot),
        Ok(other) => Err(rule_error(rule, format!("`when` gave a {:?}, not a bool", other.type_of()))),
        Err(ExecutionError::NoSuchKey(key))
            if rule.questions.iter().any(|q| q == key.as_str()) && !has_key(answered, &key) =>
        {
            Ok(Outcome::Asks(key.to_string()))
        }
        Err(e) => Err(rule_error(rule, describe(&e))),
    }
}

fn has_key(map: &Value, key: &str) -> bool {
    matches!(map, Value::Map(m) if m.map.contains_key(&crate::expr::cel::objects::Key::from(key)))
}

fn rule_error(rule: &Rule, message: String) -> PlanError {
    PlanError::Rule { rule: rule.id.clone(), at: rule.at.clone(), message }
}

/// An evaluation error without the values involved (they may be personal data).
pub fn describe(e: &ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(k) => format!("no such key {k}"),
        ExecutionError::UndeclaredReference(r) => format!("undeclared reference {r}"),
        ExecutionError::NoSuchOverload(o) => o.to_string(),
        ExecutionError::UnexpectedType { got, want } => format!("expected {want}, got {got}"),
        ExecutionError::FunctionError { function, .. } => format!("function {function} failed"),
        ExecutionError::IndexOutOfBounds(_) => "index out of bounds".to_owned(),
        ExecutionError::ValuesNotComparable(..) => "values of different types compared".to_owned(),
        _ => "evaluation failed".to_owned(),
    }
}

/// Plan the procedures for `event` concerning `subject`, a member of `household`.
pub fn plan<'a>(
    set: &'a MappingSet,
    event: LifeEvent,
    subject: &AtenaNumber,
    household: &Household,
    answers: &BTreeMap<String, String>,
    today: Date,
) -> Result<Plan<'a>, PlanError> {
    let answered = read_answers(set, answers).map_err(PlanError::Answers)?;
    let subject_resident = household
        .members
        .iter()
        .find(|m| &m.atena_number == subject)
        .ok_or(PlanError::SubjectNotInHousehold)?;
    let mut ctx = context();
    ctx.add_variable_from_value("event", event.code());
    ctx.add_variable_from_value("subject", facts::person(subject_resident, today, true));
    ctx.add_variable_from_value("household", facts::household(household, today, Some(subject)));
    ctx.add_variable_from_value("answers", answered.clone());
    let members: Vec<Value> =
        household.members.iter().map(|m| facts::person(m, today, &m.atena_number == subject)).collect();

    let mut procedures: Vec<Planned<'a>> = Vec::new();
    let mut questions: Vec<&'a Question> = Vec::new();
    for rule in set.routing().for_event(event) {
        let mut fired: Vec<(AtenaNumber, String)> = Vec::new();
        let mut ask = |id: String| {
            let q = set.routing().question(&id).expect("rules name defined questions (checked at load)");
            if !questions.iter().any(|known| known.id == q.id) {
                questions.push(q);
            }
        };
        match rule.each {
            Each::Household => match decide(rule, &ctx, &answered)? {
                Outcome::Holds => {
                    let reason = rule.reason.render(&ctx).map_err(|e| rule_error(rule, describe(&e)))?;
                    fired.push((subject.clone(), reason));
                }
                Outcome::DoesNot => {}
                Outcome::Asks(q) => ask(q),
            },
            Each::Member => {
                for (resident, member) in household.members.iter().zip(&members) {
                    let mut scope = ctx.new_inner_scope();
                    scope.add_variable_from_value("member", member.clone());
                    match decide(rule, &scope, &answered)? {
                        Outcome::Holds => {
                            let reason =
                                rule.reason.render(&scope).map_err(|e| rule_error(rule, describe(&e)))?;
                            fired.push((resident.atena_number.clone(), reason));
                        }
                        Outcome::DoesNot => {}
                        Outcome::Asks(q) => ask(q),
                    }
                }
            }
        }
        if fired.is_empty() {
            continue;
        }
        let def =
            set.catalog().get(&rule.procedure).expect("rules name catalog procedures (checked at load)");
        let planned = match procedures.iter_mut().find(|p| p.def.id == def.id) {
            Some(p) => p,
            None => {
                procedures.push(Planned {
                    def,
                    reasons: Vec::new(),
                    subjects: Vec::new(),
                    rules: Vec::new(),
                });
                procedures.last_mut().expect("just pushed")
            }
        };
        planned.rules.push(&rule.id);
        for (who, reason) in fired {
            if !planned.subjects.contains(&who) {
                planned.subjects.push(who);
            }
            if !planned.reasons.contains(&reason) {
                planned.reasons.push(reason);
            }
        }
    }
    order_for_the_visit(&mut procedures);
    Ok(Plan { event, procedures, questions })
}

/// One-stop procedures first, in the order the rules planned them; then the department-only
/// ones, grouped by department in order of first appearance.
fn order_for_the_visit(procedures: &mut [Planned<'_>]) {
    let mut departments: Vec<&str> = Vec::new();
    for p in procedures.iter() {
        if p.def.acceptance == Acceptance::Department && !departments.contains(&p.def.department.as_str()) {
            departments.push(&p.def.department);
        }
    }
    let departments: Vec<String> = departments.into_iter().map(str::to_owned).collect();
    procedures.sort_by_key(|p| match p.def.acceptance {
        Acceptance::OneStop => 0,
        Acceptance::Department => 1 + departments.iter().position(|d| *d == p.def.department).unwrap_or(0),
    });
}

#[cfg(test)]
mod tests;
