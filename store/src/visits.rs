//! The visit a session holds on the server: what the counter app's later calls refer to by the
//! session id instead of sending it back.

use std::collections::BTreeMap;

use diesel::prelude::*;
use renkei_model::{AtenaNumber, FieldValue, Household, IdentityEvidence, LifeEvent, Resident};
use serde::{Deserialize, Serialize};

use super::schema::visits;
use super::{AnyConnection, Keyring, StorageError, now_ms};

/// Everything a visit has gathered so far. Individual numbers are never kept here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    /// The last card read through the gateway's own reader in this session (high assurance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chip: Option<IdentityEvidence>,
    /// The identity presented, with the assurance the server decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<IdentityEvidence>,
    /// The resident staff looked up, and their household, as the resident record returned them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident: Option<Resident>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub household: Option<Household>,
    /// Each prefilled form, by procedure id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub forms: BTreeMap<String, PrefilledForm>,
}

/// A form as the server prefilled it: whom it is for and each value with its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrefilledForm {
    pub applicant: AtenaNumber,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub life_event: Option<LifeEvent>,
    #[serde(default)]
    pub subjects: Vec<AtenaNumber>,
    pub fields: BTreeMap<String, FieldValue>,
}

/// The sealed column a visit is kept in ([`crate::sealed`]).
pub(crate) const STATE: &str = "visits.state";

impl Visit {
    /// The visit of session `id` (empty when nothing has been kept yet).
    pub fn load(conn: &mut AnyConnection, keys: &Keyring, id: &str) -> Result<Visit, StorageError> {
        let state: Option<String> = visits::table.find(id).select(visits::state).first(conn).optional()?;
        match state {
            None => Ok(Visit::default()),
            Some(text) => serde_json::from_str(&keys.open(STATE, &text)?)
                .map_err(|e| StorageError::Corrupt(format!("visits.state: {e}"))),
        }
    }

    /// Keep the visit of session `id`, replacing what was kept.
    pub fn save(&self, conn: &mut AnyConnection, keys: &Keyring, id: &str) -> Result<(), StorageError> {
        let mut kept = self.clone();
        // 特定個人情報 stays out of the visit: whoever needs the number reads it again.
        for evidence in [&mut kept.chip, &mut kept.evidence].into_iter().flatten() {
            evidence.individual_number = None;
        }
        for resident in
            kept.resident.iter_mut().chain(kept.household.iter_mut().flat_map(|h| h.members.iter_mut()))
        {
            resident.individual_number = None;
        }
        let state =
            serde_json::to_string(&kept).map_err(|e| StorageError::Corrupt(format!("visits.state: {e}")))?;
        let state = keys.seal(STATE, &state)?;
        let now = now_ms();
        let updated = diesel::update(visits::table.find(id))
            .set((visits::state.eq(&state), visits::updated_at_ms.eq(now)))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(visits::table)
                .values((visits::session_id.eq(id), visits::state.eq(&state), visits::updated_at_ms.eq(now)))
                .execute(conn)?;
        }
        Ok(())
    }
}
