//! The simulator's in-memory resident record: the people, their indexes, the change feed and
//! the 住民異動届 received. Everything a request reads or changes is behind one lock (in the
//! caller), so a todoke is checked, applied and recorded as one step.

use std::collections::{HashMap, HashSet};

use renkei_model::{
    AtenaNumber, Date, Household, HouseholdNumber, IndividualNumber, LifeEvent, MojiText, Relationship,
    Resident, ResidentStatus,
};

use super::wire::{self, SearchQuery};
use super::{ReceivedTodoke, RejectedTodoke, Todoke};

/// Search answers hold at most this many records (the API's limit).
pub(crate) const MAX_SEARCH_RESULTS: usize = 100;

/// One entry of the change feed: the record as it was right after the change.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) seq: u64,
    pub(crate) reason: LifeEvent,
    pub(crate) date: Date,
    pub(crate) record: Resident,
}

/// What became of a todoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TodokeOutcome {
    /// First time the key was seen: recorded and applied.
    Accepted(String),
    /// The key was seen before with the same content: nothing new recorded.
    Replayed(String),
    /// Refused (422); nothing recorded against the key, so a corrected todoke may reuse it.
    Rejected(String),
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    records: Vec<Resident>,
    by_atena: HashMap<AtenaNumber, usize>,
    by_household: HashMap<HouseholdNumber, Vec<usize>>,
    by_individual_number: HashMap<IndividualNumber, usize>,
    /// (name key, birth date) → records, for every name a person may be searched by: the
    /// registered name, the 通称, the 旧氏 with the given name, and their readings.
    by_facts: HashMap<(String, Date), Vec<usize>>,
    changes: Vec<Change>,
    todoke: Vec<ReceivedTodoke>,
    todoke_by_key: HashMap<String, usize>,
    rejections: Vec<RejectedTodoke>,
}

impl Store {
    pub(crate) fn new(households: impl IntoIterator<Item = Household>) -> Self {
        let mut store = Store::default();
        for household in households {
            // Head first, whatever order the caller gave.
            let mut members = household.members;
            members.sort_by_key(|m| m.relationship != Relationship::Head);
            for resident in members {
                store.insert(resident);
            }
        }
        store
    }

    fn insert(&mut self, resident: Resident) {
        let index = self.records.len();
        self.by_atena.insert(resident.atena_number.clone(), index);
        self.by_household.entry(resident.household_number.clone()).or_default().push(index);
        if let Some(number) = &resident.individual_number {
            self.by_individual_number.insert(number.clone(), index);
        }
        let mut keys = HashSet::new();
        for name in search_names(&resident) {
            let key = wire::name_key(&name);
            if !key.is_empty() && keys.insert(key.clone()) {
                self.by_facts.entry((key, resident.birth_date)).or_default().push(index);
            }
        }
        self.records.push(resident);
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Every record, in the order they were loaded.
    pub(crate) fn records(&self) -> &[Resident] {
        &self.records
    }

    pub(crate) fn resident(&self, atena_number: &AtenaNumber) -> Option<&Resident> {
        self.by_atena.get(atena_number).map(|i| &self.records[*i])
    }

    /// The household's current members (住民), head first; `None` for an unknown number.
    pub(crate) fn household(&self, number: &HouseholdNumber) -> Option<Vec<&Resident>> {
        let members = self.by_household.get(number)?;
        Some(
            members
                .iter()
                .map(|i| &self.records[*i])
                .filter(|r| r.household_number == *number && r.status == ResidentStatus::Resident)
                .collect(),
        )
    }

    pub(crate) fn search(&self, query: &SearchQuery) -> Vec<&Resident> {
        match query {
            SearchQuery::ByIndividualNumber(number) => {
                self.by_individual_number.get(number).map(|i| &self.records[*i]).into_iter().collect()
            }
            SearchQuery::ByFacts { name_key, birth_date, sex, address_key } => {
                let Some(found) = self.by_facts.get(&(name_key.clone(), *birth_date)) else {
                    return Vec::new();
                };
                found
                    .iter()
                    .map(|i| &self.records[*i])
                    .filter(|r| sex.is_none_or(|s| r.sex == s))
                    .filter(|r| match address_key {
                        None => true,
                        Some(fragment) => r.address.as_ref().is_some_and(|a| {
                            MojiText::new(a.one_line())
                                .is_ok_and(|line| line.search_key().contains(fragment.as_str()))
                        }),
                    })
                    .take(MAX_SEARCH_RESULTS)
                    .collect()
            }
        }
    }

    /// Changes after `cursor`, oldest first, at most `limit`.
    pub(crate) fn changes_after(&self, cursor: u64, limit: usize) -> &[Change] {
        // seq n is at index n − 1, so the changes after `cursor` start at index `cursor`.
        let start = usize::try_from(cursor).unwrap_or(usize::MAX).min(self.changes.len());
        let end = start.saturating_add(limit).min(self.changes.len());
        &self.changes[start..end]
    }

    pub(crate) fn last_seq(&self) -> u64 {
        self.changes.len() as u64
    }

    pub(crate) fn received(&self) -> &[ReceivedTodoke] {
        &self.todoke
    }

    pub(crate) fn received_by_key(&self, key: &str) -> Option<&ReceivedTodoke> {
        self.todoke_by_key.get(key).map(|i| &self.todoke[*i])
    }

    pub(crate) fn rejections(&self) -> &[RejectedTodoke] {
        &self.rejections
    }

    pub(crate) fn reject(&mut self, idempotency_key: Option<String>, status: u16, detail: String) {
        self.rejections.push(RejectedTodoke { idempotency_key, status, detail });
    }

    /// Check, apply and record a todoke under `key`. The caller holds the lock across the whole
    /// call, which is what makes concurrent requests with one key record it once.
    pub(crate) fn submit(&mut self, key: &str, todoke: Todoke, reception_year: i32) -> TodokeOutcome {
        if let Some(&i) = self.todoke_by_key.get(key) {
            let received = &mut self.todoke[i];
            if received.todoke != todoke {
                let detail = "Idempotency-Key: was already used for a different todoke".to_owned();
                self.reject(Some(key.to_owned()), 422, detail.clone());
                return TodokeOutcome::Rejected(detail);
            }
            received.times_sent += 1;
            return TodokeOutcome::Replayed(received.uketsuke_no.clone());
        }
        if let Err(detail) = self.refusal(&todoke) {
            self.reject(Some(key.to_owned()), 422, detail.clone());
            return TodokeOutcome::Rejected(detail);
        }
        self.apply(&todoke);
        let uketsuke_no = format!("R{reception_year}-{:06}", self.todoke.len() + 1);
        self.todoke_by_key.insert(key.to_owned(), self.todoke.len());
        self.todoke.push(ReceivedTodoke {
            idempotency_key: key.to_owned(),
            uketsuke_no: uketsuke_no.clone(),
            times_sent: 1,
            todoke,
        });
        TodokeOutcome::Accepted(uketsuke_no)
    }

    /// Why the record refuses `todoke`, if it does.
    fn refusal(&self, todoke: &Todoke) -> Result<(), String> {
        if self.resident(&todoke.todokede).is_none() {
            return Err("todokede_atena_no: no such person".to_owned());
        }
        let moves_in = matches!(todoke.kind, LifeEvent::MoveIn | LifeEvent::MoveInFromAbroad);
        for (i, subject) in todoke.subjects.iter().enumerate() {
            let Some(resident) = self.resident(subject) else {
                return Err(format!("taisho_atena_no[{i}]: no such person"));
            };
            // A 転入 may bring back someone who had left; every other todoke is about a current
            // resident.
            if !moves_in && resident.status != ResidentStatus::Resident {
                return Err(format!("taisho_atena_no[{i}]: is not a current resident"));
            }
        }
        let needs_address = moves_in || todoke.kind == LifeEvent::MoveWithin;
        if needs_address && todoke.new_address.is_none() {
            return Err(format!("shin_jusho: is required for {}", todoke.kind.label()));
        }
        Ok(())
    }

    fn apply(&mut self, todoke: &Todoke) {
        for subject in &todoke.subjects {
            let Some(&index) = self.by_atena.get(subject) else {
                continue; // refusal() has already checked every subject
            };
            let record = &mut self.records[index];
            let changed = match todoke.kind {
                LifeEvent::MoveWithin => {
                    record.address = todoke.new_address.clone();
                    true
                }
                LifeEvent::MoveIn | LifeEvent::MoveInFromAbroad => {
                    record.address = todoke.new_address.clone();
                    record.status = ResidentStatus::Resident;
                    if todoke.idou_date >= record.birth_date {
                        record.resident_since = Some(todoke.idou_date);
                    }
                    true
                }
                LifeEvent::MoveOut | LifeEvent::MoveOutAbroad => {
                    record.status = ResidentStatus::MovedOut;
                    true
                }
                LifeEvent::Death => {
                    record.status = ResidentStatus::Deceased;
                    true
                }
                // The body carries nothing to change the record with (no new name, no newborn's
                // facts): these are recorded as received only.
                LifeEvent::Birth | LifeEvent::Marriage | LifeEvent::Divorce | LifeEvent::HouseholdChange => {
                    false
                }
            };
            if changed {
                let record = record.clone();
                let seq = self.changes.len() as u64 + 1;
                self.changes.push(Change { seq, reason: todoke.kind, date: todoke.idou_date, record });
            }
        }
    }
}

/// Every name a person can be found by.
fn search_names(r: &Resident) -> Vec<MojiText> {
    let name = &r.name;
    let joined = |a: &str, b: &str| MojiText::new(format!("{a}{b}")).ok();
    // A foreign resident's registered name is all in `family`, so joining with an empty given
    // name gives the whole name either way.
    let mut names = vec![joined(name.family.as_str(), name.given.as_str())];
    let family_kana = name.family_kana.as_ref().map(|k| k.as_str());
    let given_kana = name.given_kana.as_ref().map(|k| k.as_str()).unwrap_or_default();
    if let Some(family_kana) = family_kana {
        names.push(joined(family_kana, given_kana));
    }
    if let Some(alias) = &name.alias {
        names.push(Some(alias.name.clone()));
        names.extend(alias.kana.as_ref().map(|k| Some(k.as_moji().clone())));
    }
    if let Some(former) = &name.former_surname {
        names.push(joined(former.name.as_str(), name.given.as_str()));
        if let Some(former_kana) = &former.kana {
            names.push(joined(former_kana.as_str(), given_kana));
        }
    }
    names.into_iter().flatten().collect()
}
