//! Routing rules (`routing/*.toml`): which procedures a life event leads to, for which household,
//! and why — the life-event routing of the one-stop counter, as data.
//!
//! A rule names the life events it applies to, the procedure it plans, a CEL condition over the
//! household and the questionnaire answers, the questions the condition reads, and a reason
//! template. Every expression is compiled when the set is loaded; planning
//! ([`crate::planning`]) binds the variables and runs them.
//!
//! ```toml
//! [[questions]]
//! id = "employee_insurance"
//! text = "勤務先の健康保険（社会保険）に加入していますか？"
//! kind = "yes_no"
//!
//! [[rules]]
//! id = "move_in.kokuho"
//! events = ["move_in", "move_in_from_abroad"]
//! procedure = "kokuho.idou"
//! questions = ["employee_insurance"]
//! when = "subject.age < 75 && !answers.employee_insurance"
//! reason = "{subject.age}歳・職場の健康保険なし → 国民健康保険の加入"
//! ```

use renkei_model::{LifeEvent, ProcedureId};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::Catalog;
use crate::expr::{Expr, Template};
use crate::problem::{Problem, line_of};
use crate::source::SourceFile;

/// The variables a rule's expressions may read. `member` only in rules with `each = "member"`.
pub const RULE_VARIABLES: [&str; 5] = ["event", "subject", "household", "answers", "member"];

/// How a question is answered on the touch panel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// はい / いいえ; the answer is a bool in expressions.
    YesNo,
    /// One of `choices`; the answer is that string.
    Choice,
}

/// A question a rule may depend on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// `nhi_enrolled`: lowercase ASCII words joined by `_`.
    pub id: String,
    /// What the touch panel asks.
    pub text: String,
    pub kind: QuestionKind,
    /// The answers of a `choice` question.
    #[serde(default)]
    pub choices: Vec<String>,
}

impl Question {
    /// The answers the touch panel offers.
    pub fn offered(&self) -> Vec<String> {
        match self.kind {
            QuestionKind::YesNo => vec!["はい".to_owned(), "いいえ".to_owned()],
            QuestionKind::Choice => self.choices.clone(),
        }
    }

    /// An answer as text (`はい`, `yes`, `true` …) read for this question, or why it is refused.
    pub fn read(&self, answer: &str) -> Result<Answer, &'static str> {
        match self.kind {
            QuestionKind::YesNo => match answer.trim() {
                "はい" | "yes" | "true" => Ok(Answer::Yes(true)),
                "いいえ" | "no" | "false" => Ok(Answer::Yes(false)),
                _ => Err("must be はい or いいえ (yes / no)"),
            },
            QuestionKind::Choice if self.choices.iter().any(|c| c == answer) => {
                Ok(Answer::Choice(answer.to_owned()))
            }
            QuestionKind::Choice => Err("is not one of the question's choices"),
        }
    }
}

/// An answer as expressions see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Yes(bool),
    Choice(String),
}

/// What a rule is evaluated over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Each {
    /// Once for the household.
    Household,
    /// Once per household member, bound to `member`; the members it holds for are the subjects.
    Member,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    events: Vec<LifeEvent>,
    procedure: ProcedureId,
    #[serde(default)]
    each: Option<Each>,
    #[serde(default)]
    questions: Vec<String>,
    #[serde(default)]
    when: Option<Expr>,
    reason: Template,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingFile {
    #[serde(default)]
    questions: Vec<toml::Spanned<Question>>,
    #[serde(default)]
    rules: Vec<toml::Spanned<RuleFile>>,
}

/// One routing rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    /// Where it was written, for errors at run time (`routing/move_in.toml:12`).
    pub at: String,
    pub events: Vec<LifeEvent>,
    pub procedure: ProcedureId,
    pub each: Each,
    /// The questions `when` reads (`answers.<id>`).
    pub questions: Vec<String>,
    /// Holds when absent.
    pub when: Option<Expr>,
    /// Why the procedure is needed, for staff and the resident.
    pub reason: Template,
}

/// Every rule and question of a mapping set, rules in file order.
#[derive(Debug, Clone, Default)]
pub struct RoutingRules {
    questions: BTreeMap<String, Question>,
    rules: Vec<Rule>,
}

impl RoutingRules {
    pub(crate) fn load(files: &[SourceFile], catalog: &Catalog) -> Result<RoutingRules, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut parsed = Vec::new();
        let mut questions: BTreeMap<String, Question> = BTreeMap::new();
        for file in files {
            let problem = |line, message| Problem { file: file.path.clone(), line, message };
            let routing: RoutingFile = match file.parse_toml() {
                Ok(r) => r,
                Err(p) => {
                    problems.push(p);
                    continue;
                }
            };
            for q in routing.questions {
                let line = Some(line_of(&file.text, q.span().start));
                let q = q.into_inner();
                if renkei_model::validate_field_name(&q.id).is_err() || q.id.contains('.') {
                    problems.push(problem(
                        line,
                        format!("question {:?}: ids are lowercase ASCII words joined by '_'", q.id),
                    ));
                }
                if q.kind == QuestionKind::Choice && q.choices.is_empty() {
                    problems
                        .push(problem(line, format!("question {}: a choice question needs choices", q.id)));
                }
                if questions.contains_key(&q.id) {
                    problems.push(problem(line, format!("question {} is defined twice", q.id)));
                    continue;
                }
                questions.insert(q.id.clone(), q);
            }
            for rule in routing.rules {
                let line = line_of(&file.text, rule.span().start);
                parsed.push((file.path.clone(), line, rule.into_inner()));
            }
        }
        let mut ids = BTreeSet::new();
        let mut rules = Vec::with_capacity(parsed.len());
        for (file, line, r) in parsed {
            let problem = |message| Problem { file: file.clone(), line: Some(line), message };
            if !ids.insert(r.id.clone()) {
                problems.push(problem(format!("rule {} is defined twice", r.id)));
            }
            if r.events.is_empty() {
                problems.push(problem(format!(
                    "rule {}: events is empty; name the life events it applies to",
                    r.id
                )));
            }
            if catalog.get(&r.procedure).is_none() {
                problems.push(problem(format!("rule {}: no procedure {} in procedures/", r.id, r.procedure)));
            }
            let each = r.each.unwrap_or(Each::Household);
            for q in &r.questions {
                if !questions.contains_key(q) {
                    problems.push(problem(format!("rule {}: question {q} is not defined", r.id)));
                }
            }
            let exprs = r.when.iter().chain(r.reason.exprs());
            for e in exprs {
                for var in e.variables() {
                    let allowed =
                        RULE_VARIABLES.contains(&var.as_str()) && (var != "member" || each == Each::Member);
                    if !allowed {
                        problems.push(problem(format!(
                            "rule {}: `{}` reads {var}, which is not bound here (rules read {})",
                            r.id,
                            e.source(),
                            if each == Each::Member {
                                RULE_VARIABLES.join(", ")
                            } else {
                                RULE_VARIABLES[..4].join(", ")
                            },
                        )));
                    }
                }
                for key in e.selected_keys("answers") {
                    if !r.questions.contains(&key) {
                        problems.push(problem(format!(
                            "rule {}: reads answers.{key} but does not list {key} in questions",
                            r.id
                        )));
                    }
                }
            }
            rules.push(Rule {
                at: format!("{}:{line}", file.display()),
                id: r.id,
                events: r.events,
                procedure: r.procedure,
                each,
                questions: r.questions,
                when: r.when,
                reason: r.reason,
            });
        }
        if problems.is_empty() { Ok(RoutingRules { questions, rules }) } else { Err(problems) }
    }

    /// The rules for `event`, in file order.
    pub fn for_event(&self, event: LifeEvent) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(move |r| r.events.contains(&event))
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.get(id)
    }

    pub fn questions(&self) -> impl Iterator<Item = &Question> {
        self.questions.values()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::MappingSet;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    const PROCEDURE: &str = "id = \"x.y\"\nname = \"x\"\ndepartment = \"市民課\"\nacceptance = \"one_stop\"\nprocessing = \"department\"\n";

    #[test]
    fn the_default_rules_load_and_cover_every_life_event() {
        let set = MappingSet::embedded().unwrap();
        for event in renkei_model::LifeEvent::ALL {
            assert!(set.routing().for_event(event).next().is_some(), "no rule for {event}");
        }
        let kokuho = set.routing().rules().iter().find(|r| r.id == "move_in.kokuho").unwrap();
        assert_eq!(kokuho.at, "routing/move_in.toml:32");
        assert_eq!(kokuho.each, super::Each::Member);
        assert_eq!(set.routing().question("disability_handbook").unwrap().offered()[0], "なし");
    }

    #[test]
    fn rule_problems_name_file_line_and_rule() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "procedures/x.toml", PROCEDURE);
        write(
            dir.path(),
            "routing/r.toml",
            r#"[[questions]]
id = "q"
text = "?"
kind = "yes_no"

[[rules]]
id = "a"
events = ["birth"]
procedure = "x.y"
questions = ["q"]
when = "answers.q && answers.other"
reason = "ok"

[[rules]]
id = "b"
events = ["death"]
procedure = "no.such"
questions = ["missing"]
reason = "{member.name}"

[[rules]]
id = "c"
events = ["death"]
procedure = "x.y"
when = "household.members.exists(m, "
reason = "x"
"#,
        );
        let problems = MappingSet::load_dir(dir.path()).unwrap_err().to_string();
        let lines: Vec<&str> = problems.lines().collect();
        assert_eq!(lines.len(), 1, "a syntax error stops the file: {problems}");
        assert!(lines[0].starts_with("routing/r.toml:25: CEL: "), "{problems}");

        write(
            dir.path(),
            "routing/r.toml",
            &std::fs::read_to_string(dir.path().join("routing/r.toml"))
                .unwrap()
                .replace("exists(m, ", "exists(m, true)"),
        );
        let problems = MappingSet::load_dir(dir.path()).unwrap_err().to_string();
        assert_eq!(
            problems.lines().collect::<Vec<_>>(),
            [
                "routing/r.toml:6: rule a: reads answers.other but does not list other in questions",
                "routing/r.toml:14: rule b: no procedure no.such in procedures/",
                "routing/r.toml:14: rule b: question missing is not defined",
                "routing/r.toml:14: rule b: `member.name` reads member, which is not bound here (rules read event, subject, household, answers)",
            ]
        );
    }

    #[test]
    fn answers_are_read_for_their_question() {
        let set = MappingSet::embedded().unwrap();
        let yes_no = set.routing().question("nhi_enrolled").unwrap();
        assert_eq!(yes_no.read("はい"), Ok(super::Answer::Yes(true)));
        assert_eq!(yes_no.read("no"), Ok(super::Answer::Yes(false)));
        assert!(yes_no.read("たぶん").is_err());
        let choice = set.routing().question("disability_handbook").unwrap();
        assert_eq!(choice.read("療育手帳"), Ok(super::Answer::Choice("療育手帳".into())));
        assert!(choice.read("手帳").is_err());
    }
}
