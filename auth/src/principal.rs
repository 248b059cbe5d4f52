//! Who is calling, as the gateway knows it after checking the token: the subject, the groups and
//! what they grant, and the terminal when mutual TLS named one.

use std::collections::{BTreeMap, BTreeSet};

use crate::Permission;
use crate::groups::{DEPARTMENT_SCOPED, Groups};

/// How far a permission reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Everywhere,
    /// Only the items of these departments (work-queue permissions of a limited group).
    Departments(BTreeSet<String>),
}

impl Reach {
    pub fn covers(&self, department: &str) -> bool {
        match self {
            Reach::Everywhere => true,
            Reach::Departments(d) => d.contains(department),
        }
    }
}

/// A caller whose token checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user id (renkei's own users) or the identity provider's subject.
    pub subject: String,
    pub display_name: String,
    pub groups: Vec<String>,
    /// The login the token belongs to (renkei's own tokens); `None` for an identity provider's.
    pub login: Option<String>,
    /// When the token stops being accepted (ms since the epoch).
    pub expires_at_ms: i64,
    /// The terminal's certificate subject, set by the gateway under mutual TLS.
    pub terminal: Option<String>,
    grants: BTreeMap<Permission, Reach>,
}

impl Principal {
    /// What `group_names` grant, by `groups`; a name that is not a group grants nothing.
    pub fn new(
        subject: String,
        display_name: String,
        group_names: Vec<String>,
        groups: &Groups,
        login: Option<String>,
        expires_at_ms: i64,
    ) -> Principal {
        let mut grants: BTreeMap<Permission, Reach> = BTreeMap::new();
        for group in group_names.iter().filter_map(|n| groups.get(n)) {
            for p in &group.permissions {
                let reach = match (&group.departments, DEPARTMENT_SCOPED.contains(p)) {
                    (Some(d), true) => Reach::Departments(d.clone()),
                    _ => Reach::Everywhere,
                };
                // Two groups granting one permission reach the union of what each reaches.
                let merged = match (grants.remove(p), reach) {
                    (None, r) => r,
                    (Some(Reach::Everywhere), _) | (_, Reach::Everywhere) => Reach::Everywhere,
                    (Some(Reach::Departments(mut a)), Reach::Departments(b)) => {
                        a.extend(b);
                        Reach::Departments(a)
                    }
                };
                grants.insert(*p, merged);
            }
        }
        Principal { subject, display_name, groups: group_names, login, expires_at_ms, terminal: None, grants }
    }

    pub fn allows(&self, permission: Permission) -> bool {
        self.grants.contains_key(&permission)
    }

    /// How far `permission` reaches; `None` when it is not granted.
    pub fn reach(&self, permission: Permission) -> Option<&Reach> {
        self.grants.get(&permission)
    }

    /// Every permission granted, in order.
    pub fn permissions(&self) -> impl Iterator<Item = Permission> + '_ {
        self.grants.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_add_up_and_departments_limit_only_the_work_queue() {
        let groups = Groups::parse(
            "[groups.kokuho]\npermissions = [\"workqueue.review\", \"delivery.read\"]\ndepartments = [\"保険年金課\"]\n\
             [groups.kodomo]\npermissions = [\"workqueue.review\"]\ndepartments = [\"こども家庭課\"]\n",
        )
        .unwrap();
        let p =
            Principal::new("u".into(), "u".into(), vec!["kokuho".into(), "nobody".into()], &groups, None, 0);
        assert!(p.allows(Permission::DeliveryRead));
        assert_eq!(p.reach(Permission::DeliveryRead), Some(&Reach::Everywhere));
        assert!(p.reach(Permission::WorkQueueReview).unwrap().covers("保険年金課"));
        assert!(!p.reach(Permission::WorkQueueReview).unwrap().covers("こども家庭課"));
        assert!(!p.allows(Permission::SessionOpen));
        let both =
            Principal::new("u".into(), "u".into(), vec!["kokuho".into(), "kodomo".into()], &groups, None, 0);
        assert!(both.reach(Permission::WorkQueueReview).unwrap().covers("こども家庭課"));
    }
}
