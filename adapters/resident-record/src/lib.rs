//! The resident-record (住民記録) adapter: the system renkei asks who a resident is, and the one
//! 住民異動届 are delivered to.
//!
//! It speaks the pull-type REST API described in `conformance/docs/resident-record-api.md` and
//! returns canonical [`Resident`]s; records that do not fit the canonical model are reported
//! with the record and the item ([`RecordError`]), never passed on half-read.

use std::sync::Arc;

use async_trait::async_trait;
use renkei_adapter_core::{CoreSystem, DeliveryError, Receipt, RestClient, RestConfig, TransportError};
use renkei_adapter_mapped::{Channel, MappedSystem, MappingSource};
use renkei_mappings::{ApplyError, Mapping, MappingSet, Value};
use renkei_model::{
    Application, AtenaNumber, Date, Household, HouseholdNumber, IndividualNumber, Resident, Sex,
};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The procedure this adapter delivers.
pub const JUMIN_IDOU: &str = "jumin.idou";

/// The interfaces (mapping files under `systems/resident-record/`) this adapter reads through.
pub const ATENA: &str = "atena";
pub const ATENA_DIFF: &str = "atena-diff";

/// A record from the system that does not fit its mapping or the canonical model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("resident-record: record {record}: item {item}: {rule}")]
pub struct RecordError {
    /// The record's 宛名番号 as sent (it is not personal data of the kind that must be hidden),
    /// or its position in the answer when it has none.
    pub record: String,
    /// The mapping item (`R01-012 性別 (seibetsu)`) or the canonical path.
    pub item: String,
    pub rule: String,
}
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
    submit: MappedSystem,
    mappings: Arc<dyn MappingSource>,
}

#[derive(Deserialize)]
struct SearchResults<'a> {
    #[serde(borrow)]
    results: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct SetaiResponse<'a> {
    setai_no: String,
    #[serde(borrow)]
    members: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct ChangesResponse<'a> {
    #[serde(borrow)]
    changes: Vec<&'a RawValue>,
    next_cursor: u64,
}

/// What the change entry holds besides the mapped record: its place in the feed, and the
/// 異動事由 as the system writes it.
#[derive(Deserialize)]
struct ChangeHead {
    seq: u64,
    jiyu: Option<String>,
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

impl ResidentRecordClient {
    pub const SYSTEM: &'static str = "resident-record";

    /// A client reading and writing records through the resident record's mapping files, taken
    /// from `mappings` on every call (so an edited mapping takes over at once).
    pub fn new(config: &RestConfig, mappings: Arc<dyn MappingSource>) -> Result<Self, TransportError> {
        let rest = RestClient::new(Self::SYSTEM, config)?;
        let submit = MappedSystem::with_channel(Channel::Rest(rest.clone()), mappings.clone());
        Ok(Self { rest, submit, mappings })
    }

    /// The version of `interface` in force today.
    fn mapping(&self, set: &MappingSet, interface: &str) -> Result<Arc<Mapping>, TransportError> {
        Self::mapping_in_force(set, interface)
    }

    fn mapping_in_force(set: &MappingSet, interface: &str) -> Result<Arc<Mapping>, TransportError> {
        let today = Date::today();
        set.mapping(Self::SYSTEM, interface, today).cloned().ok_or_else(|| TransportError::Config {
            system: Self::SYSTEM.to_owned(),
            message: format!("no version of {}/{interface} is in force on {today}", Self::SYSTEM),
        })
    }

    /// The resident with this 宛名番号, if any.
    pub async fn by_atena_number(&self, number: &AtenaNumber) -> Result<Option<Resident>, LookupError> {
        let atena = self.mapping(&self.mappings.current(), ATENA)?;
        let response = self
            .rest
            .send("lookup", Method::GET, &format!("atena/{number}"), HeaderMap::new(), None::<&()>)
            .await?;
        if response.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status.is_success() {
            return Err(self.rest.status_error("lookup", &response).into());
        }
        Ok(Some(decode_resident(&atena, response.body.as_ref(), &number.to_string())?))
    }

    /// The resident with this individual number, if any. The number travels in a POST body so
    /// that it never appears in a URL or an access log.
    pub async fn by_individual_number(
        &self,
        number: &IndividualNumber,
    ) -> Result<Option<Resident>, LookupError> {
        let atena = self.mapping(&self.mappings.current(), ATENA)?;
        let response = self
            .rest
            .send(
                "search",
                Method::POST,
                "atena/search",
                HeaderMap::new(),
                Some(&SearchByNumber { kojin_no: number.expose() }),
            )
            .await?;
        let found = self.results(&atena, "search", response)?;
        Ok(found.into_iter().next())
    }

    /// Residents matching the basic facts (at most 100).
    pub async fn search(&self, query: &BasicFactsQuery) -> Result<Vec<Resident>, LookupError> {
        let atena = self.mapping(&self.mappings.current(), ATENA)?;
        let body = SearchByFacts {
            shimei: &query.name,
            seinengappi: query.birth_date.to_yyyymmdd(),
            seibetsu: query.sex.map(|s| s.iso5218().to_string()),
            jusho: query.address.as_deref(),
        };
        let response =
            self.rest.send("search", Method::POST, "atena/search", HeaderMap::new(), Some(&body)).await?;
        self.results(&atena, "search", response)
    }

    fn results(
        &self,
        atena: &Mapping,
        operation: &str,
        response: renkei_adapter_core::RestResponse,
    ) -> Result<Vec<Resident>, LookupError> {
        if !response.status.is_success() {
            return Err(self.rest.status_error(operation, &response).into());
        }
        let results: SearchResults<'_> = parse(operation, &response.body)?;
        decode_all(atena, &results.results)
    }

    /// The household with this number, head first.
    pub async fn household(&self, number: &HouseholdNumber) -> Result<Option<Household>, LookupError> {
        let atena = self.mapping(&self.mappings.current(), ATENA)?;
        let response = self
            .rest
            .send("household", Method::GET, &format!("setai/{number}"), HeaderMap::new(), None::<&()>)
            .await?;
        if response.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status.is_success() {
            return Err(self.rest.status_error("household", &response).into());
        }
        let setai: SetaiResponse<'_> = parse("household", &response.body)?;
        let household_number = HouseholdNumber::parse(&setai.setai_no).map_err(|e| RecordError {
            record: setai.setai_no.clone(),
            item: "setai_no".to_owned(),
            rule: e.rule.to_string(),
        })?;
        Ok(Some(Household { household_number, members: decode_all(&atena, &setai.members)? }))
    }

    /// Differences after `cursor`, oldest first. A change that does not read fails the page,
    /// naming its record and item: skipping it would move the cursor past a change nobody got.
    pub async fn changes(&self, cursor: u64, limit: u32) -> Result<ChangeBatch, LookupError> {
        let diff = self.mapping(&self.mappings.current(), ATENA_DIFF)?;
        let response = self
            .rest
            .send(
                "changes",
                Method::GET,
                &format!("changes?cursor={cursor}&limit={limit}"),
                HeaderMap::new(),
                None::<&()>,
            )
            .await?;
        if !response.status.is_success() {
            return Err(self.rest.status_error("changes", &response).into());
        }
        let page: ChangesResponse<'_> = parse("changes", &response.body)?;
        let mut changes = Vec::with_capacity(page.changes.len());
        for (i, raw) in page.changes.iter().enumerate() {
            let position = format!("(change {} after cursor {cursor})", i + 1);
            changes.push(Self::decode_change(&diff, raw.get().as_bytes(), &position)?);
        }
        Ok(ChangeBatch { changes, next_cursor: page.next_cursor })
    }
}

impl ResidentRecordClient {
    /// The mapping the change feed's entries are read through: `atena-diff` in force today.
    pub fn change_mapping(set: &MappingSet) -> Result<Arc<Mapping>, TransportError> {
        Self::mapping_in_force(set, ATENA_DIFF)
    }

    /// One entry of a change page (`{"seq": …, "jiyu": …, "idou_date": …, "record": {…}}`) read
    /// through `diff` ([`Self::change_mapping`]): how pulled pages are read, and pushed ones too.
    /// `position` names the entry when its 宛名番号 cannot be read.
    pub fn decode_change(diff: &Mapping, entry: &[u8], position: &str) -> Result<Change, LookupError> {
        let head: ChangeHead = parse("changes", entry)?;
        let (resident, canonical) = decode_canonical(diff, entry, position)?;
        let record = resident.atena_number.to_string();
        let date = match canonical.get("change.date") {
            Some(Value::Date(d)) => *d,
            Some(Value::Text(t)) => Date::parse_any(t).map_err(|e| RecordError {
                record: record.clone(),
                item: "change.date".into(),
                rule: e.rule.to_string(),
            })?,
            _ => {
                return Err(
                    RecordError { record, item: "change.date".into(), rule: "is required".into() }.into()
                );
            }
        };
        let reason = head.jiyu.unwrap_or_default();
        Ok(Change { seq: head.seq, reason, date, resident })
    }
}

/// An answer's JSON frame (the records in it stay raw until their mapping reads them).
fn parse<'a, T: Deserialize<'a>>(operation: &str, body: &'a [u8]) -> Result<T, TransportError> {
    serde_json::from_slice(body).map_err(|e| TransportError::Decode {
        system: ResidentRecordClient::SYSTEM.to_owned(),
        operation: operation.to_owned(),
        message: e.to_string(),
    })
}

/// A record error from applying a mapping: the record's 宛名番号 when it was readable.
fn apply_error(record: &str, e: ApplyError) -> RecordError {
    RecordError { record: record.to_owned(), item: e.item, rule: e.rule }
}

/// One JSON record through `mapping` to a resident and its canonical record. `fallback` names
/// the record when its 宛名番号 cannot be read.
fn decode_canonical(
    mapping: &Mapping,
    json: &[u8],
    fallback: &str,
) -> Result<(Resident, renkei_mappings::CanonicalRecord), RecordError> {
    let mut system = mapping.new_system();
    mapping.decode(json, &mut system).map_err(|e| apply_error(fallback, e))?;
    let record = mapping
        .item_index("atena_no")
        .or_else(|| mapping.item_index("record.atena_no"))
        .and_then(|i| system.get(i))
        .map_or_else(|| fallback.to_owned(), Value::to_text);
    let mut canonical = mapping.new_canonical();
    mapping.to_canonical(&system, &mut canonical).map_err(|e| apply_error(&record, e))?;
    let resident = canonical.to_resident().map_err(|errors| {
        let first = errors.0.into_iter().next();
        RecordError {
            record: record.clone(),
            item: first.as_ref().map(|e| e.path.to_string()).unwrap_or_default(),
            rule: first.map(|e| e.rule.to_string()).unwrap_or_default(),
        }
    })?;
    Ok((resident, canonical))
}

fn decode_resident(mapping: &Mapping, json: &[u8], fallback: &str) -> Result<Resident, RecordError> {
    decode_canonical(mapping, json, fallback).map(|(resident, _)| resident)
}

fn decode_all(mapping: &Mapping, records: &[&RawValue]) -> Result<Vec<Resident>, LookupError> {
    records
        .iter()
        .enumerate()
        .map(|(i, raw)| decode_resident(mapping, raw.get().as_bytes(), &format!("(result {})", i + 1)))
        .collect::<Result<_, _>>()
        .map_err(LookupError::from)
}

#[async_trait]
impl CoreSystem for ResidentRecordClient {
    fn name(&self) -> &str {
        Self::SYSTEM
    }

    /// A 住民異動届 (`jumin.idou`) through `resident-record/todoke`, posted to `todoke`.
    async fn deliver(
        &self,
        idempotency_key: &str,
        application: &Application,
    ) -> Result<Receipt, DeliveryError> {
        self.submit.deliver(idempotency_key, application).await
    }

    async fn health(&self) -> Result<(), TransportError> {
        self.rest.get_json::<serde_json::Value>("health", "health").await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> serde_json::Value {
        serde_json::json!({
            "atena_no": "0000000019", "setai_no": "0000000019",
            "shi": "葛\u{E0100}西", "mei": "太郎", "shi_kana": "カサイ", "mei_kana": "タロウ",
            "seinengappi": "19890108", "seibetsu": "1", "zokugara": "世帯主",
            "jusho": {"todofuken": "東京都", "shikuchoson": "千代田区", "dantai_code": "131016",
                      "machiaza": "霞が関一丁目", "banchi": "1番2号", "katagaki": null, "yubin_no": "1000013"},
            "jumin_shubetsu": "1", "jumin_jotai": "1", "jumin_date": "20100401"
        })
    }

    fn decode(v: serde_json::Value) -> Result<Resident, RecordError> {
        let set = MappingSet::embedded().unwrap();
        let atena = set.mapping_by_id("resident-record/atena@1").unwrap();
        decode_resident(atena, v.to_string().as_bytes(), "(result 1)")
    }

    #[test]
    fn decodes_a_record_through_the_mapping_keeping_the_selector() {
        let r = decode(record()).unwrap();
        assert_eq!(r.name.family.as_str(), "葛\u{E0100}西");
        assert_eq!(r.birth_date.to_wareki_string().unwrap(), "平成元年1月8日");
        assert_eq!(r.address.unwrap().local_government_code.as_str(), "131016");
    }

    #[test]
    fn bad_items_are_named_with_the_record() {
        let cases = [
            ("seibetsu", serde_json::json!("3"), "(seibetsu)"),
            ("seinengappi", serde_json::json!("19890230"), "(seinengappi)"),
            ("zokugara", serde_json::json!("孫"), "relationship"),
            ("atena_no", serde_json::json!("0000000018"), "atena_number"),
            ("jumin_shubetsu", serde_json::json!("2"), "nationality.country"),
        ];
        for (item, value, named) in cases {
            let mut v = record();
            v[item] = value;
            let e = decode(v).unwrap_err();
            assert!(e.item.contains(named), "{item}: {e}");
            assert!(e.to_string().starts_with("resident-record: record 00000000"), "{e}");
        }
        let set = MappingSet::embedded().unwrap();
        let atena = set.mapping_by_id("resident-record/atena@1").unwrap();
        let e = decode_resident(atena, br#"{"atena_no": "0000000019", "shi": "#, "(result 1)").unwrap_err();
        assert_eq!(e.record, "(result 1)", "{e}");
        assert!(e.rule.starts_with("is not JSON of this layout"), "{e}");
    }
}
