//! The national health insurance system (国民健康保険): 資格取得 / 資格喪失 / 記載事項変更 submitted
//! through the mapping the catalog chooses by the form's 異動区分 (usually Shift_JIS CSV over file
//! transfer), and member lookup: `GET member/{宛名番号}` answered with one `nhi/member` record.
//!
//! Lookups are REST; when submissions go by file, the lookups have their own REST settings.

use std::sync::Arc;

use async_trait::async_trait;
use renkei_adapter_core::{
    CoreSystem, DeliveryError, Receipt, RestClient, RestConfig, TransportConfig, TransportError,
};
use renkei_mappings::{CanonicalRecord, MappingId};
use renkei_model::{Application, AtenaNumber, Date, Resident};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::{Channel, MappedSystem, MappingSource, decode_records};

/// An insured person as the NHI system holds them.
#[derive(Debug, Clone)]
pub struct Member {
    pub resident: Resident,
    /// The whole record, including what the resident model does not hold.
    pub record: CanonicalRecord,
    pub mapping: MappingId,
}

/// Why a lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The answer does not read; names the record asked for and the item.
    #[error("{system}: {mapping}: member {record}: {rule}")]
    Record { system: String, mapping: String, record: String, rule: String },
}

/// The NHI system's adapter.
#[derive(Debug, Clone)]
pub struct NhiSystem {
    mapped: MappedSystem,
    lookup: Option<RestClient>,
}

impl NhiSystem {
    pub const SYSTEM: &'static str = "nhi";

    /// `lookup` configures member lookups when `transport` is not REST itself.
    pub fn new(
        name: &str,
        transport: &TransportConfig,
        lookup: Option<&RestConfig>,
        mappings: Arc<dyn MappingSource>,
    ) -> Result<NhiSystem, TransportError> {
        let mapped = MappedSystem::new(name, transport, mappings)?;
        let lookup = match (lookup, mapped.channel()) {
            (Some(config), _) => Some(RestClient::new(name, config)?),
            (None, Channel::Rest(rest)) => Some(rest.clone()),
            (None, Channel::File(_)) => None,
        };
        Ok(NhiSystem { mapped, lookup })
    }

    /// The member with this 宛名番号, through the `nhi/member` version in force today.
    pub async fn member(&self, atena_number: &AtenaNumber) -> Result<Option<Member>, MemberError> {
        let system = self.mapped.name().to_owned();
        let rest = self.lookup.as_ref().ok_or_else(|| TransportError::Config {
            system: system.clone(),
            message: "member lookups need REST: set transport = \"rest\" or [systems.nhi.lookup]".into(),
        })?;
        let set = self.mapped.mappings().current();
        let on = Date::today();
        let mapping = set.mapping("nhi", "member", on).cloned().ok_or_else(|| TransportError::Config {
            system: system.clone(),
            message: format!("no version of nhi/member is in force on {on}"),
        })?;
        let response = rest
            .send("member", Method::GET, &format!("member/{atena_number}"), HeaderMap::new(), None::<&()>)
            .await?;
        if response.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status.is_success() {
            return Err(rest.status_error("member", &response).into());
        }
        let bad = |rule: String| MemberError::Record {
            system: system.clone(),
            mapping: mapping.id.to_string(),
            record: atena_number.to_string(),
            rule,
        };
        let mut read = decode_records(&mapping, &response.body).into_iter();
        let record = match (read.next(), read.next()) {
            (Some(Ok(record)), None) => record,
            (Some(Err(failure)), _) => return Err(bad(failure.to_string())),
            (None, _) => return Err(bad("the answer holds no record".into())),
            (Some(Ok(_)), Some(_)) => return Err(bad("the answer holds more than one record".into())),
        };
        let mut canonical = mapping.new_canonical();
        mapping.to_canonical(&record, &mut canonical).map_err(|e| bad(e.to_string()))?;
        let resident = canonical.to_resident().map_err(|errors| {
            let first = errors.0.into_iter().next().map(|e| e.to_string()).unwrap_or_default();
            bad(first)
        })?;
        if resident.atena_number != *atena_number {
            return Err(bad("the answer is another person's record (atena_number)".into()));
        }
        Ok(Some(Member { resident, record: canonical, mapping: mapping.id.clone() }))
    }
}

#[async_trait]
impl CoreSystem for NhiSystem {
    fn name(&self) -> &str {
        self.mapped.name()
    }

    async fn deliver(
        &self,
        idempotency_key: &str,
        application: &Application,
    ) -> Result<Receipt, DeliveryError> {
        self.mapped.deliver(idempotency_key, application).await
    }

    async fn health(&self) -> Result<(), TransportError> {
        self.mapped.health().await
    }
}
