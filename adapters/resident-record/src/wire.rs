//! The resident record's JSON (see conformance/docs/resident-record-api.md) and its translation
//! to and from the canonical model. Every decoding error names the record and the item.

use renkei_model::{
    Address, Application, AtenaNumber, Date, HouseholdNumber, KanaText, MojiText, NameWithKana, Nationality,
    PersonName, Relationship, Resident, ResidentStatus, Sex, ValidationError,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct AtenaRecord {
    pub atena_no: String,
    pub setai_no: String,
    pub shi: String,
    #[serde(default)]
    pub mei: String,
    #[serde(default)]
    pub shi_kana: String,
    #[serde(default)]
    pub mei_kana: String,
    #[serde(default)]
    pub tsusho: Option<String>,
    #[serde(default)]
    pub tsusho_kana: Option<String>,
    #[serde(default)]
    pub kyuuji: Option<String>,
    #[serde(default)]
    pub kyuuji_kana: Option<String>,
    pub seinengappi: String,
    pub seibetsu: String,
    pub zokugara: String,
    #[serde(default)]
    pub jusho: Option<Jusho>,
    pub jumin_shubetsu: String,
    #[serde(default)]
    pub kokuseki: Option<String>,
    #[serde(default)]
    pub zairyu_shikaku: Option<String>,
    pub jumin_jotai: String,
    #[serde(default)]
    pub jumin_date: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct Jusho {
    pub todofuken: String,
    pub shikuchoson: String,
    pub dantai_code: String,
    pub machiaza: String,
    pub banchi: String,
    #[serde(default)]
    pub katagaki: Option<String>,
    #[serde(default)]
    pub yubin_no: Option<String>,
}

/// A record from the system that does not fit the canonical model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("resident-record: record {record}: item {item}: {rule}")]
pub struct RecordError {
    /// The record's 宛名番号 as sent (it is not personal data of the kind that must be hidden).
    pub record: String,
    /// The item's JSON name (`jusho.dantai_code`).
    pub item: String,
    pub rule: String,
}

struct Decoder<'a> {
    record: &'a str,
}

impl Decoder<'_> {
    fn err(&self, item: &str, e: ValidationError) -> RecordError {
        RecordError { record: self.record.to_owned(), item: item.to_owned(), rule: e.rule.to_string() }
    }

    fn moji(&self, item: &str, s: &str) -> Result<MojiText, RecordError> {
        MojiText::new(s).map_err(|e| self.err(item, e))
    }

    fn opt_moji(&self, item: &str, s: &Option<String>) -> Result<Option<MojiText>, RecordError> {
        s.as_deref().filter(|s| !s.is_empty()).map(|s| self.moji(item, s)).transpose()
    }

    fn kana(&self, item: &str, s: &str) -> Result<Option<KanaText>, RecordError> {
        if s.is_empty() { Ok(None) } else { KanaText::parse(s).map(Some).map_err(|e| self.err(item, e)) }
    }

    fn name_with_kana(
        &self,
        item: &str,
        name: &Option<String>,
        kana: &Option<String>,
    ) -> Result<Option<NameWithKana>, RecordError> {
        let Some(name) = self.opt_moji(item, name)? else { return Ok(None) };
        let kana = self.kana(&format!("{item}_kana"), kana.as_deref().unwrap_or(""))?;
        Ok(Some(NameWithKana { name, kana }))
    }

    fn date(&self, item: &str, s: &str) -> Result<Date, RecordError> {
        Date::parse_yyyymmdd(s).map_err(|e| self.err(item, e))
    }
}

fn other(rule: &'static str) -> ValidationError {
    ValidationError::new(renkei_model::Rule::Other(rule))
}

impl AtenaRecord {
    pub(crate) fn into_resident(self) -> Result<Resident, RecordError> {
        let d = Decoder { record: &self.atena_no };
        let atena_number = AtenaNumber::parse(&self.atena_no).map_err(|e| d.err("atena_no", e))?;
        let household_number = HouseholdNumber::parse(&self.setai_no).map_err(|e| d.err("setai_no", e))?;
        let name = PersonName {
            family: d.moji("shi", &self.shi)?,
            given: d.moji("mei", &self.mei)?,
            family_kana: d.kana("shi_kana", &self.shi_kana)?,
            given_kana: d.kana("mei_kana", &self.mei_kana)?,
            alias: d.name_with_kana("tsusho", &self.tsusho, &self.tsusho_kana)?,
            former_surname: d.name_with_kana("kyuuji", &self.kyuuji, &self.kyuuji_kana)?,
        };
        let sex_code: u8 =
            self.seibetsu.parse().map_err(|_| d.err("seibetsu", other("must be one digit")))?;
        let sex = Sex::from_iso5218(sex_code).map_err(|e| d.err("seibetsu", e))?;
        let relationship: Relationship = self.zokugara.parse().map_err(|e| d.err("zokugara", e))?;
        let address = self.jusho.as_ref().map(|j| j.to_address(&d)).transpose()?;
        let nationality = match self.jumin_shubetsu.as_str() {
            "1" => Nationality::Japanese,
            "2" => Nationality::Foreign {
                country: self
                    .kokuseki
                    .clone()
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| d.err("kokuseki", other("is required for a foreign resident")))?,
                residence_status: self.zairyu_shikaku.clone().filter(|z| !z.is_empty()),
            },
            _ => return Err(d.err("jumin_shubetsu", other("must be 1 (日本人) or 2 (外国人住民)"))),
        };
        let status = match self.jumin_jotai.as_str() {
            "1" => ResidentStatus::Resident,
            "2" => ResidentStatus::MovedOut,
            "3" => ResidentStatus::Deceased,
            "4" => ResidentStatus::Removed,
            _ => return Err(d.err("jumin_jotai", other("must be 1, 2, 3 or 4"))),
        };
        let resident = Resident {
            atena_number,
            individual_number: None,
            household_number,
            name,
            birth_date: d.date("seinengappi", &self.seinengappi)?,
            sex,
            relationship,
            address,
            nationality,
            status,
            resident_since: self
                .jumin_date
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| d.date("jumin_date", s))
                .transpose()?,
        };
        // Whole-record rules (e.g. a required name part) come back with the canonical path.
        resident.validate().map_err(|errors| {
            let first = errors.0.into_iter().next().expect("an error");
            RecordError {
                record: self.atena_no.clone(),
                item: first.path.to_string(),
                rule: first.rule.to_string(),
            }
        })?;
        Ok(resident)
    }
}

impl Jusho {
    fn to_address(&self, d: &Decoder<'_>) -> Result<Address, RecordError> {
        Ok(Address {
            prefecture: d.moji("jusho.todofuken", &self.todofuken)?,
            municipality: d.moji("jusho.shikuchoson", &self.shikuchoson)?,
            local_government_code: self.dantai_code.parse().map_err(|e| d.err("jusho.dantai_code", e))?,
            town: d.moji("jusho.machiaza", &self.machiaza)?,
            banchi: d.moji("jusho.banchi", &self.banchi)?,
            katagaki: d.opt_moji("jusho.katagaki", &self.katagaki)?,
            postal_code: self
                .yubin_no
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map_err(|e| d.err("jusho.yubin_no", e)))
                .transpose()?,
        })
    }
}

/// The 住民異動届 body of `POST /todoke`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Todoke {
    pub todoke_shubetsu: &'static str,
    pub idou_date: String,
    pub todokede_atena_no: String,
    pub taisho_atena_no: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shin_jusho: Option<Jusho>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub biko: Option<String>,
}

/// Why an application cannot become a 住民異動届. Names the application field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fields.{field}: {rule}")]
pub struct TodokeError {
    pub field: String,
    pub rule: String,
}

impl Todoke {
    pub(crate) fn from_application(app: &Application) -> Result<Todoke, TodokeError> {
        let field =
            |name: &str| app.fields.get(name).map(|f| f.value.as_str().to_owned()).filter(|v| !v.is_empty());
        let missing = |name: &str| TodokeError { field: name.to_owned(), rule: "is required".to_owned() };
        let event = app.life_event.ok_or_else(|| TodokeError {
            field: "life_event".to_owned(),
            rule: "is required for a 住民異動届".to_owned(),
        })?;
        let event_date = field("event_date").ok_or_else(|| missing("event_date"))?;
        let idou_date = Date::parse_any(&event_date)
            .map_err(|e| TodokeError { field: "event_date".to_owned(), rule: e.rule.to_string() })?
            .to_yyyymmdd();
        let shin_jusho = match field("new_address.banchi") {
            None => None,
            Some(banchi) => {
                let part = |name: &str| {
                    field(&format!("new_address.{name}"))
                        .ok_or_else(|| missing(&format!("new_address.{name}")))
                };
                Some(Jusho {
                    todofuken: part("prefecture")?,
                    shikuchoson: part("municipality")?,
                    dantai_code: part("local_government_code")?,
                    machiaza: part("town")?,
                    banchi,
                    katagaki: field("new_address.katagaki"),
                    yubin_no: field("new_address.postal_code").map(|p| p.replace('-', "")),
                })
            }
        };
        let mut subjects: Vec<String> = app.subjects.iter().map(|a| a.to_string()).collect();
        if subjects.is_empty() {
            subjects.push(app.applicant.to_string());
        }
        Ok(Todoke {
            // The resident record names the kinds of 届出 as the life events' labels.
            todoke_shubetsu: event.label(),
            idou_date,
            todokede_atena_no: app.applicant.to_string(),
            taisho_atena_no: subjects,
            shin_jusho,
            biko: field("remarks"),
        })
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
        serde_json::from_value::<AtenaRecord>(v).unwrap().into_resident()
    }

    #[test]
    fn decodes_a_record_keeping_the_selector() {
        let r = decode(record()).unwrap();
        assert_eq!(r.name.family.as_str(), "葛\u{E0100}西");
        assert_eq!(r.birth_date.to_wareki_string().unwrap(), "平成元年1月8日");
        assert_eq!(r.address.unwrap().local_government_code.as_str(), "131016");
    }

    #[test]
    fn bad_items_are_named() {
        let cases = [
            ("seibetsu", serde_json::json!("3"), "seibetsu"),
            ("seinengappi", serde_json::json!("19890230"), "seinengappi"),
            ("zokugara", serde_json::json!("孫"), "zokugara"),
            ("atena_no", serde_json::json!("0000000018"), "atena_no"),
            ("jumin_shubetsu", serde_json::json!("2"), "kokuseki"),
        ];
        for (item, value, named) in cases {
            let mut v = record();
            v[item] = value;
            let e = decode(v).unwrap_err();
            assert_eq!(e.item, named, "{e}");
            assert!(e.to_string().starts_with("resident-record: record "), "{e}");
        }
        let mut v = record();
        v["jusho"]["dantai_code"] = serde_json::json!("131017");
        assert_eq!(decode(v).unwrap_err().item, "jusho.dantai_code");
    }
}
