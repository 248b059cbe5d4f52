//! The simulated vendor's wire format: the JSON of `docs/resident-record-api.md`, and the parsing
//! of request bodies into canonical values.
//!
//! Requests are read field by field from a `serde_json::Value` rather than through derived
//! `Deserialize`: serde's messages quote the offending value, and the value may be an individual
//! number. Every 400 detail here names the field and the rule, never the value.

use renkei_model::{
    Address, AtenaNumber, Date, IndividualNumber, LifeEvent, LocalGovernmentCode, MojiText, Nationality,
    PostalCode, Resident, ResidentStatus, Rule, Sex, ValidationError,
};
use serde::Serialize;
use serde_json::{Map, Value};

use super::Todoke;

/// 宛名 record as the vendor sends it. Every key is always present; absent values are `null`.
#[derive(Debug, Serialize)]
pub(crate) struct AtenaRecord {
    atena_no: String,
    setai_no: String,
    shi: String,
    mei: String,
    shi_kana: String,
    mei_kana: String,
    tsusho: Option<String>,
    tsusho_kana: Option<String>,
    kyuuji: Option<String>,
    kyuuji_kana: Option<String>,
    seinengappi: String,
    seibetsu: String,
    zokugara: String,
    jusho: Option<Jusho>,
    jumin_shubetsu: &'static str,
    kokuseki: Option<String>,
    zairyu_shikaku: Option<String>,
    jumin_jotai: &'static str,
    jumin_date: Option<String>,
}

impl AtenaRecord {
    /// The record of `resident`. The individual number is deliberately not carried over.
    pub(crate) fn from_resident(resident: &Resident) -> Self {
        let name = &resident.name;
        let (kokuseki, zairyu_shikaku) = match &resident.nationality {
            Nationality::Japanese => (None, None),
            Nationality::Foreign { country, residence_status } => {
                (Some(country.clone()), residence_status.clone())
            }
        };
        let kana = |k: Option<&renkei_model::KanaText>| k.map(|k| k.as_str().to_owned());
        AtenaRecord {
            atena_no: resident.atena_number.to_string(),
            setai_no: resident.household_number.to_string(),
            shi: name.family.to_string(),
            mei: name.given.to_string(),
            shi_kana: kana(name.family_kana.as_ref()).unwrap_or_default(),
            mei_kana: kana(name.given_kana.as_ref()).unwrap_or_default(),
            tsusho: name.alias.as_ref().map(|a| a.name.to_string()),
            tsusho_kana: name.alias.as_ref().and_then(|a| kana(a.kana.as_ref())),
            kyuuji: name.former_surname.as_ref().map(|f| f.name.to_string()),
            kyuuji_kana: name.former_surname.as_ref().and_then(|f| kana(f.kana.as_ref())),
            seinengappi: resident.birth_date.to_yyyymmdd(),
            seibetsu: resident.sex.iso5218().to_string(),
            zokugara: resident.relationship.to_string(),
            jusho: resident.address.as_ref().map(Jusho::from),
            jumin_shubetsu: if resident.is_foreign() { "2" } else { "1" },
            kokuseki,
            zairyu_shikaku,
            jumin_jotai: match resident.status {
                ResidentStatus::Resident => "1",
                ResidentStatus::MovedOut => "2",
                ResidentStatus::Deceased => "3",
                ResidentStatus::Removed => "4",
            },
            jumin_date: resident.resident_since.map(Date::to_yyyymmdd),
        }
    }
}

/// 住所 as the vendor sends it.
#[derive(Debug, Serialize)]
pub(crate) struct Jusho {
    todofuken: String,
    shikuchoson: String,
    dantai_code: String,
    machiaza: String,
    banchi: String,
    katagaki: Option<String>,
    yubin_no: Option<String>,
}

impl From<&Address> for Jusho {
    fn from(a: &Address) -> Self {
        Jusho {
            todofuken: a.prefecture.to_string(),
            shikuchoson: a.municipality.to_string(),
            dantai_code: a.local_government_code.to_string(),
            machiaza: a.town.to_string(),
            banchi: a.banchi.to_string(),
            katagaki: a.katagaki.as_ref().map(MojiText::to_string),
            yubin_no: a.postal_code.as_ref().map(PostalCode::to_string),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct SetaiResponse {
    pub(crate) setai_no: String,
    pub(crate) members: Vec<AtenaRecord>,
}

#[derive(Debug, Serialize)]
pub(crate) struct SearchResponse {
    pub(crate) results: Vec<AtenaRecord>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChangeEntry {
    pub(crate) seq: u64,
    pub(crate) jiyu: &'static str,
    pub(crate) idou_date: String,
    pub(crate) record: AtenaRecord,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChangesResponse {
    pub(crate) changes: Vec<ChangeEntry>,
    pub(crate) next_cursor: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct UketsukeResponse {
    pub(crate) uketsuke_no: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct HealthResponse {
    pub(crate) status: &'static str,
    pub(crate) residents: usize,
}

#[derive(Debug, Serialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<String>,
}

/// A 400: `detail` is `field: rule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRequest(pub(crate) String);

impl From<ValidationError> for BadRequest {
    fn from(e: ValidationError) -> Self {
        BadRequest(e.to_string())
    }
}

fn bad(path: &str, rule: Rule) -> BadRequest {
    ValidationError::at(path, rule).into()
}

/// What `POST /atena/search` asks for.
#[derive(Debug)]
pub(crate) enum SearchQuery {
    ByIndividualNumber(IndividualNumber),
    ByFacts {
        /// [`MojiText::search_key`] of the name, ASCII letters upper-cased.
        name_key: String,
        birth_date: Date,
        sex: Option<Sex>,
        /// [`MojiText::search_key`] of the address fragment.
        address_key: Option<String>,
    },
}

/// The key names and birth dates are indexed under: spaces and selectors dropped, kana in
/// full-width katakana, and Latin letters in upper case (foreign names are registered in capitals
/// but often typed otherwise).
pub(crate) fn name_key(text: &MojiText) -> String {
    text.search_key().to_ascii_uppercase()
}

pub(crate) fn parse_search(body: &[u8]) -> Result<SearchQuery, BadRequest> {
    let map = parse_object(body)?;
    let body = Object { map: &map, path: "" };
    body.deny_unknown(&["kojin_no", "shimei", "seinengappi", "seibetsu", "jusho"])?;
    if let Some(number) = body.string("kojin_no")? {
        for other in ["shimei", "seinengappi", "seibetsu", "jusho"] {
            if body.string(other)?.is_some() {
                return Err(bad(other, Rule::Other("is not allowed with kojin_no")));
            }
        }
        let number = IndividualNumber::parse(number).map_err(|e| e.under("kojin_no"))?;
        return Ok(SearchQuery::ByIndividualNumber(number));
    }
    if body.string("shimei")?.is_none() && body.string("seinengappi")?.is_none() {
        return Err(bad("body", Rule::Other("must hold kojin_no, or shimei and seinengappi")));
    }
    let shimei = MojiText::required(body.required_string("shimei")?).map_err(|e| e.under("shimei"))?;
    let birth_date = parse_date(body.required_string("seinengappi")?).map_err(|e| e.under("seinengappi"))?;
    let sex = body.string("seibetsu")?.map(|s| parse_sex(s).map_err(|e| e.under("seibetsu"))).transpose()?;
    let address_key = match body.string("jusho")? {
        Some(fragment) => {
            let key = MojiText::new(fragment).map_err(|e| e.under("jusho"))?.search_key();
            (!key.is_empty()).then_some(key)
        }
        None => None,
    };
    Ok(SearchQuery::ByFacts { name_key: name_key(&shimei), birth_date, sex, address_key })
}

pub(crate) fn parse_todoke(body: &[u8]) -> Result<Todoke, BadRequest> {
    let map = parse_object(body)?;
    let body = Object { map: &map, path: "" };
    body.deny_unknown(&[
        "todoke_shubetsu",
        "idou_date",
        "todokede_atena_no",
        "taisho_atena_no",
        "shin_jusho",
        "biko",
    ])?;
    let kind_text = body.required_string("todoke_shubetsu")?;
    let kind = LifeEvent::ALL
        .into_iter()
        .find(|e| e.label() == kind_text)
        .ok_or_else(|| bad("todoke_shubetsu", Rule::UnknownCode { table: "届出種別" }))?;
    let idou_date = parse_date(body.required_string("idou_date")?).map_err(|e| e.under("idou_date"))?;
    let todokede = AtenaNumber::parse(body.required_string("todokede_atena_no")?)
        .map_err(|e| e.under("todokede_atena_no"))?;

    let subjects = match body.get("taisho_atena_no") {
        None => return Err(bad("taisho_atena_no", Rule::Required)),
        Some(Value::Array(items)) if items.is_empty() => return Err(bad("taisho_atena_no", Rule::Required)),
        Some(Value::Array(items)) => {
            let mut subjects: Vec<AtenaNumber> = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let at = format!("taisho_atena_no[{i}]");
                let Value::String(s) = item else {
                    return Err(bad(&at, Rule::Other("must be a string")));
                };
                let number = AtenaNumber::parse(s).map_err(|e| e.under(&at))?;
                if subjects.contains(&number) {
                    return Err(bad(&at, Rule::Other("repeats an earlier number")));
                }
                subjects.push(number);
            }
            subjects
        }
        Some(_) => return Err(bad("taisho_atena_no", Rule::Other("must be an array of strings"))),
    };

    let new_address = match body.get("shin_jusho") {
        None => None,
        Some(Value::Object(jusho)) => Some(parse_jusho(&Object { map: jusho, path: "shin_jusho" })?),
        Some(_) => return Err(bad("shin_jusho", Rule::Other("must be an object"))),
    };
    let note = body.string("biko")?.map(str::to_owned);
    Ok(Todoke { kind, idou_date, todokede, subjects, new_address, note })
}

fn parse_jusho(jusho: &Object<'_>) -> Result<Address, BadRequest> {
    jusho.deny_unknown(&[
        "todofuken",
        "shikuchoson",
        "dantai_code",
        "machiaza",
        "banchi",
        "katagaki",
        "yubin_no",
    ])?;
    let text = |name: &str| -> Result<MojiText, BadRequest> {
        MojiText::required(jusho.required_string(name)?).map_err(|e| e.under(name).under(jusho.path).into())
    };
    let dantai_code = LocalGovernmentCode::parse(jusho.required_string("dantai_code")?)
        .map_err(|e| e.under("dantai_code").under(jusho.path))?;
    let katagaki = match jusho.string("katagaki")? {
        Some(k) if !k.trim().is_empty() => {
            Some(MojiText::new(k).map_err(|e| e.under("katagaki").under(jusho.path))?)
        }
        _ => None,
    };
    let postal_code = match jusho.string("yubin_no")? {
        Some(p) if p.len() == 7 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(PostalCode::parse(p).map_err(|e| e.under("yubin_no").under(jusho.path))?)
        }
        Some(_) => return Err(bad(&jusho.field("yubin_no"), Rule::Digits(7))),
        None => None,
    };
    Ok(Address {
        prefecture: text("todofuken")?,
        municipality: text("shikuchoson")?,
        local_government_code: dantai_code,
        town: text("machiaza")?,
        banchi: text("banchi")?,
        katagaki,
        postal_code,
    })
}

fn parse_date(s: &str) -> Result<Date, ValidationError> {
    Date::parse_yyyymmdd(s)
}

fn parse_sex(s: &str) -> Result<Sex, ValidationError> {
    let unknown = || ValidationError::new(Rule::UnknownCode { table: "sex (ISO 5218)" });
    match s.as_bytes() {
        [digit @ b'0'..=b'9'] => Sex::from_iso5218(digit - b'0'),
        _ => Err(unknown()),
    }
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, BadRequest> {
    // serde_json's syntax errors give a line and column, never the input, but there is nothing
    // useful in them for a caller either.
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad("body", Rule::Other("must be a JSON object"))),
        Err(_) => Err(bad("body", Rule::Other("is not valid JSON"))),
    }
}

/// A JSON object with the field path it sits at, for messages.
struct Object<'a> {
    map: &'a Map<String, Value>,
    path: &'a str,
}

impl<'a> Object<'a> {
    fn field(&self, name: &str) -> String {
        if self.path.is_empty() { name.to_owned() } else { format!("{}.{name}", self.path) }
    }

    /// The value of `name`; `null` counts as absent.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn string(&self, name: &str) -> Result<Option<&'a str>, BadRequest> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(bad(&self.field(name), Rule::Other("must be a string"))),
        }
    }

    fn required_string(&self, name: &str) -> Result<&'a str, BadRequest> {
        match self.string(name)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(bad(&self.field(name), Rule::Required)),
        }
    }

    /// Refuses fields the API does not define, so a misspelt item is reported instead of being
    /// silently ignored. The name is echoed only when it looks like an item name: a key could be
    /// anything a client put there, personal data included.
    fn deny_unknown(&self, allowed: &[&str]) -> Result<(), BadRequest> {
        let Some(unknown) = self.map.keys().find(|k| !allowed.contains(&k.as_str())) else {
            return Ok(());
        };
        let looks_like_an_item = unknown.len() <= 40
            && !unknown.is_empty()
            && unknown.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        let at = if self.path.is_empty() { "body" } else { self.path };
        Err(BadRequest(if looks_like_an_item {
            format!("{at}: has an unknown field `{unknown}`")
        } else {
            format!("{at}: has an unknown field")
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_name_the_field_and_never_echo_an_individual_number() {
        let cases: [(&str, &str); 9] = [
            (r#"{"kojin_no": "123456789017"}"#, "kojin_no: check digit does not match"),
            (r#"{"kojin_no": 123456789018}"#, "kojin_no: must be a string"),
            (r#"{"kojin_no": "123456789018", "shimei": "x"}"#, "shimei: is not allowed with kojin_no"),
            (r#"{"shimei": "葛西太郎"}"#, "seinengappi: is required"),
            (
                r#"{"shimei": "葛西太郎", "seinengappi": "19890132"}"#,
                "seinengappi: is not a valid date (no such day)",
            ),
            (
                r#"{"shimei": "葛西太郎", "seinengappi": "19890108", "seibetsu": "3"}"#,
                "seibetsu: is not a known sex (ISO 5218) code",
            ),
            (r#"{"123456789018": "x"}"#, "body: has an unknown field"),
            (r#"{"kojin": "x"}"#, "body: has an unknown field `kojin`"),
            ("[1]", "body: must be a JSON object"),
        ];
        for (body, detail) in cases {
            let err = parse_search(body.as_bytes()).unwrap_err();
            assert_eq!(err.0, detail, "{body}");
            assert!(!err.0.contains("12345678901"), "{body}");
        }
    }

    #[test]
    fn todoke_shin_jusho_errors_carry_the_nested_path() {
        let body = r#"{"todoke_shubetsu":"転居","idou_date":"20261121","todokede_atena_no":"0000000019",
            "taisho_atena_no":["0000000019"],"shin_jusho":{"todofuken":"神奈川県","shikuchoson":"横浜市中区",
            "dantai_code":"141047","machiaza":"桜町一丁目","banchi":"1番1号"}}"#;
        assert_eq!(
            parse_todoke(body.as_bytes()).unwrap_err().0,
            "shin_jusho.dantai_code: check digit does not match"
        );
        let body = body.replace("141047", "141046").replace("\"1番1号\"", "\"\"");
        assert_eq!(parse_todoke(body.as_bytes()).unwrap_err().0, "shin_jusho.banchi: is required");
        let body = body.replace("\"banchi\":\"\"", "\"banchi\":\"1番1号\",\"yubin_no\":\"231-0001\"");
        assert_eq!(
            parse_todoke(body.as_bytes()).unwrap_err().0,
            "shin_jusho.yubin_no: must be exactly 7 digits (0-9)"
        );
        let body = body.replace("231-0001", "2310001");
        let todoke = parse_todoke(body.as_bytes()).unwrap();
        assert_eq!(todoke.kind, LifeEvent::MoveWithin);
        assert_eq!(todoke.new_address.unwrap().postal_code.unwrap().as_str(), "2310001");
    }

    #[test]
    fn todoke_subject_list_rules() {
        let with = |subjects: &str| {
            format!(
                r#"{{"todoke_shubetsu":"死亡","idou_date":"20261121","todokede_atena_no":"0000000019","taisho_atena_no":{subjects}}}"#
            )
        };
        let err = |subjects| parse_todoke(with(subjects).as_bytes()).unwrap_err().0;
        assert_eq!(err("[]"), "taisho_atena_no: is required");
        assert_eq!(err(r#"["0000000019","0000000018"]"#), "taisho_atena_no[1]: check digit does not match");
        assert_eq!(err(r#"["0000000019","0000000019"]"#), "taisho_atena_no[1]: repeats an earlier number");
        assert_eq!(err(r#""0000000019""#), "taisho_atena_no: must be an array of strings");
        assert!(parse_todoke(with(r#"["0000000019"]"#).as_bytes()).is_ok());
        let unknown_kind = with(r#"["0000000019"]"#).replace("死亡", "move_out");
        assert_eq!(
            parse_todoke(unknown_kind.as_bytes()).unwrap_err().0,
            "todoke_shubetsu: is not a known 届出種別 code"
        );
    }
}
