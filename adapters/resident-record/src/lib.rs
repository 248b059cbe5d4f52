//! The resident-record (住民記録) adapter: the system renkei asks who a resident is, and the one
//! 住民異動届 are delivered to.
//!
//! It speaks the pull-type REST API described in `conformance/docs/resident-record-api.md` and
//! returns canonical [`Resident`]s; records that do not fit the canonical model are reported
//! with the record and the item ([`RecordError`]), never passed on half-read.

mod wire;

use async_trait::async_trait;
use renkei_adapter_core::{CoreSystem, DeliveryError, Receipt, RestClient, RestConfig, TransportError};
use renkei_model::{
    Application, AtenaNumber, Date, Household, HouseholdNumber, IndividualNumber, Resident, Sex,
};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use wire::{AtenaRecord, Todoke};
pub use wire::{RecordError, TodokeError};

/// The procedure this adapter delivers.
pub const JUMIN_IDOU: &str = "jumin.idou";

/// Why a lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// A search by the basic four facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicFactsQuery {
    /// Family and given name; spaces and variation selectors do not matter for matching.
    pub name: String,
    pub birth_date: Date,
    pub sex: Option<Sex>,
    /// Part of the one-line address.
    pub address: Option<String>,
}

/// A page of the change feed.
#[derive(Debug, Clone)]
pub struct ChangeBatch {
    pub changes: Vec<Change>,
    pub next_cursor: u64,
}

/// One difference (異動分) of the resident record.
#[derive(Debug, Clone)]
pub struct Change {
    pub seq: u64,
    /// 異動事由 as the system writes it (転居, 転入 …).
    pub reason: String,
    pub date: Date,
    pub resident: Resident,
}

/// The client for one resident-record system.
#[derive(Debug, Clone)]
pub struct ResidentRecordClient {
    rest: RestClient,
}

#[derive(Deserialize)]
struct SearchResults {
    results: Vec<AtenaRecord>,
}

#[derive(Deserialize)]
struct SetaiResponse {
    setai_no: String,
    members: Vec<AtenaRecord>,
}

#[derive(Deserialize)]
struct ChangesResponse {
    changes: Vec<ChangeWire>,
    next_cursor: u64,
}

#[derive(Deserialize)]
struct ChangeWire {
    seq: u64,
    jiyu: String,
    idou_date: String,
    record: AtenaRecord,
}

#[derive(Serialize)]
struct SearchByFacts<'a> {
    shimei: &'a str,
    seinengappi: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    seibetsu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jusho: Option<&'a str>,
}

#[derive(Serialize)]
struct SearchByNumber<'a> {
    kojin_no: &'a str,
}

#[derive(Deserialize)]
struct TodokeAccepted {
    uketsuke_no: String,
}

impl ResidentRecordClient {
    pub const SYSTEM: &'static str = "resident-record";

    pub fn new(config: &RestConfig) -> Result<Self, TransportError> {
        Ok(Self { rest: RestClient::new(Self::SYSTEM, config)? })
    }

    /// The resident with this 宛名番号, if any.
    pub async fn by_atena_number(&self, number: &AtenaNumber) -> Result<Option<Resident>, LookupError> {
        let response = self
            .rest
            .send("lookup", Method::GET, &format!("atena/{number}"), HeaderMap::new(), None::<&()>)
            .await?;
        if response.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let record: AtenaRecord = self.rest.expect_json("lookup", response)?;
        Ok(Some(record.into_resident()?))
    }

    /// The resident with this individual number, if any. The number travels in a POST body so
    /// that it never appears in a URL or an access log.
    pub async fn by_individual_number(
        &self,
        number: &IndividualNumber,
    ) -> Result<Option<Resident>, LookupError> {
        let results: SearchResults = self
            .rest
            .post_json("search", "atena/search", &SearchByNumber { kojin_no: number.expose() })
            .await?;
        Ok(decode_all(results.results)?.into_iter().next())
    }

    /// Residents matching the basic facts (at most 100).
    pub async fn search(&self, query: &BasicFactsQuery) -> Result<Vec<Resident>, LookupError> {
        let body = SearchByFacts {
            shimei: &query.name,
            seinengappi: query.birth_date.to_yyyymmdd(),
            seibetsu: query.sex.map(|s| s.iso5218().to_string()),
            jusho: query.address.as_deref(),
        };
        let results: SearchResults = self.rest.post_json("search", "atena/search", &body).await?;
        Ok(decode_all(results.results)?)
    }

    /// The household with this number, head first.
    pub async fn household(&self, number: &HouseholdNumber) -> Result<Option<Household>, LookupError> {
        let response = self
            .rest
            .send("household", Method::GET, &format!("setai/{number}"), HeaderMap::new(), None::<&()>)
            .await?;
        if response.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let setai: SetaiResponse = self.rest.expect_json("household", response)?;
        let household_number = HouseholdNumber::parse(&setai.setai_no).map_err(|e| RecordError {
            record: setai.setai_no.clone(),
            item: "setai_no".to_owned(),
            rule: e.rule.to_string(),
        })?;
        Ok(Some(Household { household_number, members: decode_all(setai.members)? }))
    }

    /// Differences after `cursor`, oldest first.
    pub async fn changes(&self, cursor: u64, limit: u32) -> Result<ChangeBatch, LookupError> {
        let page: ChangesResponse =
            self.rest.get_json("changes", &format!("changes?cursor={cursor}&limit={limit}")).await?;
        let mut changes = Vec::with_capacity(page.changes.len());
        for c in page.changes {
            let date = Date::parse_yyyymmdd(&c.idou_date).map_err(|e| RecordError {
                record: c.record.atena_no.clone(),
                item: "idou_date".to_owned(),
                rule: e.rule.to_string(),
            })?;
            changes.push(Change { seq: c.seq, reason: c.jiyu, date, resident: c.record.into_resident()? });
        }
        Ok(ChangeBatch { changes, next_cursor: page.next_cursor })
    }
}

fn decode_all(records: Vec<AtenaRecord>) -> Result<Vec<Resident>, RecordError> {
    records.into_iter().map(AtenaRecord::into_resident).collect()
}

#[async_trait]
impl CoreSystem for ResidentRecordClient {
    fn name(&self) -> &str {
        Self::SYSTEM
    }

    async fn deliver(
        &self,
        idempotency_key: &str,
        application: &Application,
    ) -> Result<Receipt, DeliveryError> {
        if application.procedure.as_str() != JUMIN_IDOU {
            return Err(DeliveryError::Unsupported {
                system: Self::SYSTEM.to_owned(),
                procedure: application.procedure.to_string(),
            });
        }
        let todoke = Todoke::from_application(application).map_err(|e| DeliveryError::Rejected {
            system: Self::SYSTEM.to_owned(),
            reason: e.to_string(),
        })?;
        let mut headers = HeaderMap::new();
        let key = HeaderValue::from_str(idempotency_key).map_err(|_| DeliveryError::Rejected {
            system: Self::SYSTEM.to_owned(),
            reason: "the idempotency key is not a valid header value".to_owned(),
        })?;
        headers.insert("Idempotency-Key", key);
        let response = self.rest.send("todoke", Method::POST, "todoke", headers, Some(&todoke)).await?;
        match response.status {
            StatusCode::CREATED | StatusCode::OK => {
                let accepted: TodokeAccepted = self.rest.decode("todoke", &response.body)?;
                Ok(Receipt { reference: accepted.uketsuke_no, duplicate: response.status == StatusCode::OK })
            }
            StatusCode::UNPROCESSABLE_ENTITY => Err(DeliveryError::Rejected {
                system: Self::SYSTEM.to_owned(),
                reason: self.rest.status_error("todoke", &response).to_string(),
            }),
            _ => Err(self.rest.status_error("todoke", &response).into()),
        }
    }

    async fn health(&self) -> Result<(), TransportError> {
        self.rest.get_json::<serde_json::Value>("health", "health").await.map(|_| ())
    }
}
