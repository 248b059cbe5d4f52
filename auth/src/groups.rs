//! Groups: what each grants, as data integrators edit (`groups.toml`, embedded as the default).
//! A file is checked whole, like the mappings: an unknown key or permission, an empty group or a
//! department list on a permission it cannot limit is refused, naming the group and the value.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::Permission;

/// The default groups, compiled in.
pub const DEFAULT: &str = include_str!("../groups.toml");

/// The permissions whose reach a group's `departments` limits.
pub const DEPARTMENT_SCOPED: [Permission; 2] = [Permission::WorkQueueList, Permission::WorkQueueReview];

/// One group, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub description: String,
    pub permissions: BTreeSet<Permission>,
    /// `None`: every department.
    pub departments: Option<BTreeSet<String>>,
}

/// Every group, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groups {
    groups: BTreeMap<String, Group>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    groups: BTreeMap<String, GroupFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    #[serde(default)]
    description: String,
    permissions: Vec<String>,
    departments: Option<Vec<String>>,
}

impl Groups {
    /// The compiled-in default set.
    pub fn embedded() -> Groups {
        Groups::parse(DEFAULT).expect("the default groups pass their own check")
    }

    /// Read and check a groups file; the error names the file.
    pub fn load(path: &Path) -> Result<Groups, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Groups::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Check a groups file's text; every problem is reported, one per line.
    pub fn parse(text: &str) -> Result<Groups, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut problems = Vec::new();
        let mut groups = BTreeMap::new();
        for (name, g) in file.groups {
            let key = format!("[groups.{name:?}]");
            if name.trim().is_empty() || name.contains('\n') {
                problems.push(format!("{key}: a group's name is one non-empty line"));
            }
            let mut permissions = BTreeSet::new();
            for p in &g.permissions {
                match p.parse::<Permission>() {
                    Ok(p) => {
                        permissions.insert(p);
                    }
                    Err(e) => problems.push(format!("{key}.permissions: {e}")),
                }
            }
            if g.permissions.is_empty() {
                problems.push(format!("{key}.permissions: a group grants at least one permission"));
            }
            let departments = g.departments.map(|d| d.into_iter().collect::<BTreeSet<_>>());
            if let Some(d) = &departments {
                if d.is_empty() || d.iter().any(|x| x.trim().is_empty()) {
                    problems.push(format!(
                        "{key}.departments: name at least one department, or leave the key out for all of them"
                    ));
                }
                if !DEPARTMENT_SCOPED.iter().any(|p| permissions.contains(p)) {
                    problems.push(format!(
                        "{key}.departments: limits only workqueue.list and workqueue.review, which the group does not grant"
                    ));
                }
            }
            groups.insert(name.clone(), Group { name, description: g.description, permissions, departments });
        }
        if problems.is_empty() { Ok(Groups { groups }) } else { Err(problems.join("\n")) }
    }

    pub fn get(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// The names of `names` that are not groups here.
    pub fn unknown<'a>(&self, names: &'a [String]) -> Vec<&'a str> {
        names.iter().filter(|n| !self.groups.contains_key(*n)).map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_groups_are_the_five_and_the_online_intake() {
        let groups = Groups::embedded();
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        for want in ["窓口職員", "窓口責任者", "バックヤード審査", "システム管理者", "監査", "オンライン受付"]
        {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let staff = groups.get("窓口職員").unwrap();
        assert!(staff.permissions.contains(&Permission::ApplicationSubmit));
        assert!(!staff.permissions.contains(&Permission::ResidentReadIndividualNumber));
        assert!(
            groups.get("窓口責任者").unwrap().permissions.contains(&Permission::ResidentReadIndividualNumber)
        );
    }

    #[test]
    fn every_problem_is_named_with_its_group() {
        let e = Groups::parse(
            "[groups.a]\npermissions = [\"resident.write\"]\n\
             [groups.b]\npermissions = []\n\
             [groups.c]\npermissions = [\"session.open\"]\ndepartments = [\"保険年金課\"]\n",
        )
        .unwrap_err();
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 3, "{e}");
        assert!(lines[0].starts_with("[groups.\"a\"].permissions: no permission \"resident.write\""), "{e}");
        assert!(lines[1].starts_with("[groups.\"b\"].permissions: a group grants at least one"), "{e}");
        assert!(lines[2].starts_with("[groups.\"c\"].departments: limits only"), "{e}");
        let e = Groups::parse("[groups.a]\npermission = [\"session.open\"]\n").unwrap_err();
        assert!(e.contains("permission"), "{e}");
    }
}
