//! The canonical side of a mapping: which paths a canonical record has, and the flat record the
//! engine works on.
//!
//! A path names a field of the canonical model the way its JSON form does: `name.family`,
//! `address.banchi`, `nationality.country`, and for applications `fields.<form field>`
//! (`fields.new_address.banchi`: everything after `fields.` is one form-field name). The set of
//! paths of each kind is fixed here, so a mapping that names a path the model does not have is
//! refused when it is checked, not when a record arrives.
//!
//! A [`CanonicalRecord`] is a vector of slots, one per path, in a layout fixed when the mapping set
//! is compiled: applying a plan reads and writes slots by index and never looks a path up.

use std::collections::BTreeMap;
use std::sync::Arc;

use renkei_model::{
    Address, Application, AtenaNumber, Date, FieldValue, HouseholdNumber, IndividualNumber, KanaText,
    LifeEvent, MojiText, NameWithKana, Nationality, PersonName, ProcedureId, Provenance, Relationship,
    Resident, ResidentStatus, Rule, Sex, ValidationError, ValidationErrors,
};
use serde::Deserialize;

use crate::value::{Value, ValueKind};

/// The canonical types a mapping can describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CanonicalKind {
    /// A person of the resident record ([`Resident`]), with the change that produced the
    /// record when it comes from the change feed (`change.reason`, `change.date`).
    Resident,
    /// An application ([`Application`]) with its form fields under `fields.`.
    Application,
    /// What a core system answers with and the canonical model does not type (the contents of a
    /// 課税証明書, a 資格確認): the person it is about and named fields under `fields.`.
    Certificate,
}

/// One path of a canonical kind.
#[derive(Debug, Clone, Copy)]
pub struct PathDef {
    pub path: &'static str,
    pub kind: ValueKind,
    pub about: &'static str,
}

const fn text(path: &'static str, about: &'static str) -> PathDef {
    PathDef { path, kind: ValueKind::Text, about }
}

const fn date(path: &'static str, about: &'static str) -> PathDef {
    PathDef { path, kind: ValueKind::Date, about }
}

// Slot numbers of the resident paths; RESIDENT_PATHS lists them in this order.
mod r {
    pub(super) const ATENA: usize = 0;
    pub(super) const INDIVIDUAL: usize = 1;
    pub(super) const HOUSEHOLD: usize = 2;
    pub(super) const FAMILY: usize = 3;
    pub(super) const GIVEN: usize = 4;
    pub(super) const FAMILY_KANA: usize = 5;
    pub(super) const GIVEN_KANA: usize = 6;
    pub(super) const ALIAS: usize = 7;
    pub(super) const ALIAS_KANA: usize = 8;
    pub(super) const FORMER: usize = 9;
    pub(super) const FORMER_KANA: usize = 10;
    pub(super) const BIRTH: usize = 11;
    pub(super) const SEX: usize = 12;
    pub(super) const RELATIONSHIP: usize = 13;
    pub(super) const PREFECTURE: usize = 14;
    pub(super) const MUNICIPALITY: usize = 15;
    pub(super) const LG_CODE: usize = 16;
    pub(super) const TOWN: usize = 17;
    pub(super) const BANCHI: usize = 18;
    pub(super) const KATAGAKI: usize = 19;
    pub(super) const POSTAL: usize = 20;
    pub(super) const NATIONALITY: usize = 21;
    pub(super) const COUNTRY: usize = 22;
    pub(super) const RESIDENCE_STATUS: usize = 23;
    pub(super) const STATUS: usize = 24;
    pub(super) const SINCE: usize = 25;
    pub(super) const CHANGE_REASON: usize = 26;
    pub(super) const CHANGE_DATE: usize = 27;
}

const RESIDENT_PATHS: [PathDef; 28] = [
    text("atena_number", "宛名番号"),
    text("individual_number", "個人番号 (特定個人情報: never in a log or an error)"),
    text("household_number", "世帯番号"),
    text("name.family", "氏"),
    text("name.given", "名"),
    text("name.family_kana", "氏カナ (full-width katakana)"),
    text("name.given_kana", "名カナ"),
    text("name.alias.name", "通称"),
    text("name.alias.kana", "通称カナ"),
    text("name.former_surname.name", "旧氏"),
    text("name.former_surname.kana", "旧氏カナ"),
    date("birth_date", "生年月日"),
    text("sex", "性別: not_known, male, female, not_applicable"),
    text("relationship", "続柄: 世帯主, 妻, 子の妻 … (「の」 chains)"),
    text("address.prefecture", "都道府県"),
    text("address.municipality", "市区町村"),
    text("address.local_government_code", "地方公共団体コード (6 digits)"),
    text("address.town", "町字"),
    text("address.banchi", "番地"),
    text("address.katagaki", "方書"),
    text("address.postal_code", "郵便番号 (7 digits)"),
    text("nationality.kind", "japanese or foreign"),
    text("nationality.country", "国籍・地域 (ISO 3166-1 alpha-2)"),
    text("nationality.residence_status", "在留資格 (renkei's code)"),
    text("status", "住民状態: resident, moved_out, deceased, removed"),
    date("resident_since", "住民となった年月日"),
    text("change.reason", "異動事由 (renkei's code), for records of the change feed"),
    date("change.date", "異動日, for records of the change feed"),
];

mod a {
    pub(super) const PROCEDURE: usize = 0;
    pub(super) const APPLICANT: usize = 1;
    pub(super) const SUBJECTS: usize = 2;
    pub(super) const LIFE_EVENT: usize = 3;
    pub(super) const SUBJECT: usize = 4;
}

const APPLICATION_PATHS: [PathDef; 5] = [
    text("procedure", "procedure id (jumin.idou …)"),
    text("applicant", "申請者の宛名番号"),
    PathDef { path: "subjects", kind: ValueKind::List, about: "対象者の宛名番号 (a list)" },
    text("life_event", "move_in, move_within, birth …"),
    text(
        "subject",
        "the 宛名番号 of the person the record is for (mappings with records = per_subject or one_subject)",
    ),
];

mod c {
    pub(super) const SUBJECT: usize = 0;
}

const CERTIFICATE_PATHS: [PathDef; 1] = [text("subject", "the 宛名番号 the certificate is about")];

impl CanonicalKind {
    pub const ALL: [CanonicalKind; 3] =
        [CanonicalKind::Resident, CanonicalKind::Application, CanonicalKind::Certificate];

    pub fn as_str(self) -> &'static str {
        match self {
            CanonicalKind::Resident => "resident",
            CanonicalKind::Application => "application",
            CanonicalKind::Certificate => "certificate",
        }
    }

    /// The fixed paths of the kind (dynamic `fields.*` come after them).
    pub fn paths(self) -> &'static [PathDef] {
        match self {
            CanonicalKind::Resident => &RESIDENT_PATHS,
            CanonicalKind::Application => &APPLICATION_PATHS,
            CanonicalKind::Certificate => &CERTIFICATE_PATHS,
        }
    }

    /// Whether the kind has free form fields under `fields.`.
    pub fn has_fields(self) -> bool {
        !matches!(self, CanonicalKind::Resident)
    }
}

/// The slot layout of one canonical kind in one mapping set: its fixed paths, then every
/// `fields.*` name some mapping of the set uses, in sorted order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    kind: CanonicalKind,
    fields: Vec<String>,
}

/// Why a path cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    Unknown,
    BadFieldName,
}

impl Schema {
    pub(crate) fn new(kind: CanonicalKind, mut fields: Vec<String>) -> Schema {
        fields.sort();
        fields.dedup();
        Schema { kind, fields }
    }

    pub fn kind(&self) -> CanonicalKind {
        self.kind
    }

    pub fn len(&self) -> usize {
        self.kind.paths().len() + self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `path` exists in `kind`, without a layout (used while the set is being read).
    pub(crate) fn check_path(kind: CanonicalKind, path: &str) -> Result<ValueKind, PathError> {
        if let Some(def) = kind.paths().iter().find(|d| d.path == path) {
            return Ok(def.kind);
        }
        match path.strip_prefix("fields.") {
            Some(name) if kind.has_fields() => renkei_model::validate_field_name(name)
                .map(|()| ValueKind::Text)
                .map_err(|_| PathError::BadFieldName),
            _ => Err(PathError::Unknown),
        }
    }

    /// The slot of `path`. Used when a plan is compiled, never while applying it.
    pub fn slot(&self, path: &str) -> Option<usize> {
        if let Some(i) = self.kind.paths().iter().position(|d| d.path == path) {
            return Some(i);
        }
        let name = path.strip_prefix("fields.")?;
        self.fields.binary_search_by(|f| f.as_str().cmp(name)).ok().map(|i| self.kind.paths().len() + i)
    }

    /// The path of slot `slot`.
    pub fn path(&self, slot: usize) -> String {
        let fixed = self.kind.paths();
        match fixed.get(slot) {
            Some(def) => def.path.to_owned(),
            None => format!("fields.{}", self.fields[slot - fixed.len()]),
        }
    }

    pub fn value_kind(&self, slot: usize) -> ValueKind {
        self.kind.paths().get(slot).map_or(ValueKind::Text, |d| d.kind)
    }

    /// An empty record of this layout.
    pub fn record(self: &Arc<Self>) -> CanonicalRecord {
        CanonicalRecord { schema: self.clone(), slots: vec![None; self.len()] }
    }
}

/// A canonical record in the flat form plans apply to: one optional [`Value`] per slot of its
/// [`Schema`]. `Debug` masks the individual number.
#[derive(Clone, PartialEq, Eq)]
pub struct CanonicalRecord {
    schema: Arc<Schema>,
    pub(crate) slots: Vec<Option<Value>>,
}

impl std::fmt::Debug for CanonicalRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (i, value) in self.slots.iter().enumerate() {
            let Some(value) = value else { continue };
            if self.schema.kind == CanonicalKind::Resident && i == r::INDIVIDUAL {
                map.entry(&"individual_number", &"************");
            } else {
                map.entry(&self.schema.path(i), value);
            }
        }
        map.finish()
    }
}

fn t(s: impl Into<String>) -> Option<Value> {
    Some(Value::Text(s.into()))
}

fn opt_t(s: Option<&str>) -> Option<Value> {
    s.filter(|s| !s.is_empty()).map(|s| Value::Text(s.to_owned()))
}

impl CanonicalRecord {
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The value at `path`, if any (a look-up by name: for tools and tests).
    pub fn get(&self, path: &str) -> Option<&Value> {
        self.schema.slot(path).and_then(|s| self.slots[s].as_ref())
    }

    /// Set the value at `path` (a look-up by name: for tools and tests).
    pub fn set(&mut self, path: &str, value: Value) -> Result<(), PathError> {
        let slot = self.schema.slot(path).ok_or(PathError::Unknown)?;
        self.slots[slot] = Some(value);
        Ok(())
    }

    pub fn get_slot(&self, slot: usize) -> Option<&Value> {
        self.slots[slot].as_ref()
    }

    pub fn set_slot(&mut self, slot: usize, value: Option<Value>) {
        self.slots[slot] = value;
    }

    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
    }

    /// Every present value with its path, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (String, &Value)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, v)| v.as_ref().map(|v| (self.schema.path(i), v)))
    }

    /// The record as nested JSON objects by path (`fields.*` names stay one key under `fields`).
    pub fn to_json(&self) -> serde_json::Value {
        let mut root = serde_json::Map::new();
        for (path, value) in self.iter() {
            insert_path(&mut root, &path, value.to_json());
        }
        serde_json::Value::Object(root)
    }

    /// Read the nested JSON form [`CanonicalRecord::to_json`] writes. Unknown paths are errors
    /// naming the path; dates are `YYYY-MM-DD` (or any form [`Date::parse_any`] reads).
    pub fn from_json(
        schema: &Arc<Schema>,
        json: &serde_json::Value,
    ) -> Result<CanonicalRecord, ValidationErrors> {
        let mut record = schema.record();
        let mut errors = ValidationErrors::new();
        let mut leaves = Vec::new();
        flatten(json, String::new(), &mut leaves);
        for (path, leaf) in leaves {
            let Some(slot) = schema.slot(&path) else {
                errors.push(ValidationError::at(&path, Rule::Other("is not a path of this canonical kind")));
                continue;
            };
            let value = match (schema.value_kind(slot), leaf) {
                (_, serde_json::Value::Null) => continue,
                (ValueKind::List, serde_json::Value::Array(items)) => {
                    Value::List(items.iter().map(json_scalar_text).collect())
                }
                (ValueKind::Date, leaf) => match Date::parse_any(&json_scalar_text(leaf)) {
                    Ok(d) => Value::Date(d),
                    Err(e) => {
                        errors.push(e.under(&path));
                        continue;
                    }
                },
                (_, leaf) => Value::Text(json_scalar_text(leaf)),
            };
            record.slots[slot] = Some(value);
        }
        errors.into_result().map(|()| record)
    }

    /// The canonical record of a resident, in `schema` (which must be of kind resident).
    pub fn from_resident(schema: &Arc<Schema>, resident: &Resident) -> CanonicalRecord {
        debug_assert_eq!(schema.kind, CanonicalKind::Resident);
        let mut rec = schema.record();
        let s = &mut rec.slots;
        s[r::ATENA] = t(resident.atena_number.as_str());
        s[r::INDIVIDUAL] = resident.individual_number.as_ref().map(|n| Value::Text(n.expose().to_owned()));
        s[r::HOUSEHOLD] = t(resident.household_number.as_str());
        let name = &resident.name;
        s[r::FAMILY] = t(name.family.as_str());
        s[r::GIVEN] = opt_t(Some(name.given.as_str()));
        s[r::FAMILY_KANA] = opt_t(name.family_kana.as_ref().map(KanaText::as_str));
        s[r::GIVEN_KANA] = opt_t(name.given_kana.as_ref().map(KanaText::as_str));
        if let Some(alias) = &name.alias {
            s[r::ALIAS] = t(alias.name.as_str());
            s[r::ALIAS_KANA] = opt_t(alias.kana.as_ref().map(KanaText::as_str));
        }
        if let Some(former) = &name.former_surname {
            s[r::FORMER] = t(former.name.as_str());
            s[r::FORMER_KANA] = opt_t(former.kana.as_ref().map(KanaText::as_str));
        }
        s[r::BIRTH] = Some(Value::Date(resident.birth_date));
        s[r::SEX] = t(sex_code(resident.sex));
        s[r::RELATIONSHIP] = t(resident.relationship.to_string());
        if let Some(addr) = &resident.address {
            s[r::PREFECTURE] = t(addr.prefecture.as_str());
            s[r::MUNICIPALITY] = t(addr.municipality.as_str());
            s[r::LG_CODE] = t(addr.local_government_code.as_str());
            s[r::TOWN] = t(addr.town.as_str());
            s[r::BANCHI] = t(addr.banchi.as_str());
            s[r::KATAGAKI] = opt_t(addr.katagaki.as_ref().map(MojiText::as_str));
            s[r::POSTAL] = opt_t(addr.postal_code.as_ref().map(|p| p.as_str()));
        }
        match &resident.nationality {
            Nationality::Japanese => s[r::NATIONALITY] = t("japanese"),
            Nationality::Foreign { country, residence_status } => {
                s[r::NATIONALITY] = t("foreign");
                s[r::COUNTRY] = t(country.as_str());
                s[r::RESIDENCE_STATUS] = opt_t(residence_status.as_deref());
            }
        }
        s[r::STATUS] = t(status_code(resident.status));
        s[r::SINCE] = resident.resident_since.map(Value::Date);
        rec
    }

    /// The resident this record describes. Every broken rule is reported with its canonical path.
    pub fn to_resident(&self) -> Result<Resident, ValidationErrors> {
        debug_assert_eq!(self.schema.kind, CanonicalKind::Resident);
        let mut errors = ValidationErrors::new();
        let s = &self.slots;
        let text = |slot: usize| s[slot].as_ref().and_then(Value::as_text).filter(|t| !t.is_empty());
        let path = |slot: usize| RESIDENT_PATHS[slot].path;
        let required = |slot: usize, errors: &mut ValidationErrors| -> Option<&str> {
            let v = text(slot);
            if v.is_none() {
                errors.push(ValidationError::at(path(slot), Rule::Required));
            }
            v
        };
        let atena =
            required(r::ATENA, &mut errors).and_then(|v| errors.check(path(r::ATENA), AtenaNumber::parse(v)));
        let household = required(r::HOUSEHOLD, &mut errors)
            .and_then(|v| errors.check(path(r::HOUSEHOLD), HouseholdNumber::parse(v)));
        let individual =
            text(r::INDIVIDUAL).and_then(|v| errors.check(path(r::INDIVIDUAL), IndividualNumber::parse(v)));
        let moji = |slot: usize, errors: &mut ValidationErrors| -> Option<MojiText> {
            text(slot).and_then(|v| errors.check(path(slot), MojiText::new(v)))
        };
        let kana = |slot: usize, errors: &mut ValidationErrors| -> Option<KanaText> {
            text(slot).and_then(|v| errors.check(path(slot), KanaText::parse(v)))
        };
        let family = moji(r::FAMILY, &mut errors);
        let given = moji(r::GIVEN, &mut errors).unwrap_or_default();
        let family_kana = kana(r::FAMILY_KANA, &mut errors);
        let given_kana = kana(r::GIVEN_KANA, &mut errors);
        let alias = moji(r::ALIAS, &mut errors)
            .map(|name| NameWithKana { name, kana: kana(r::ALIAS_KANA, &mut errors) });
        let former_surname = moji(r::FORMER, &mut errors)
            .map(|name| NameWithKana { name, kana: kana(r::FORMER_KANA, &mut errors) });
        let birth_date = match &s[r::BIRTH] {
            Some(Value::Date(d)) => Some(*d),
            _ => {
                errors.push(ValidationError::at(path(r::BIRTH), Rule::Required));
                None
            }
        };
        let sex = required(r::SEX, &mut errors).and_then(|v| match parse_sex(v) {
            Some(sex) => Some(sex),
            None => {
                errors.push(ValidationError::at(path(r::SEX), Rule::UnknownCode { table: "sex" }));
                None
            }
        });
        let relationship = required(r::RELATIONSHIP, &mut errors)
            .and_then(|v| errors.check(path(r::RELATIONSHIP), v.parse::<Relationship>()));
        let address_slots =
            [r::PREFECTURE, r::MUNICIPALITY, r::LG_CODE, r::TOWN, r::BANCHI, r::KATAGAKI, r::POSTAL];
        let address = if address_slots.iter().any(|slot| text(*slot).is_some()) {
            let prefecture = required(r::PREFECTURE, &mut errors)
                .and_then(|v| errors.check(path(r::PREFECTURE), MojiText::new(v)));
            let municipality = required(r::MUNICIPALITY, &mut errors)
                .and_then(|v| errors.check(path(r::MUNICIPALITY), MojiText::new(v)));
            let code =
                required(r::LG_CODE, &mut errors).and_then(|v| errors.check(path(r::LG_CODE), v.parse()));
            let town =
                required(r::TOWN, &mut errors).and_then(|v| errors.check(path(r::TOWN), MojiText::new(v)));
            let banchi = required(r::BANCHI, &mut errors)
                .and_then(|v| errors.check(path(r::BANCHI), MojiText::new(v)));
            let katagaki = moji(r::KATAGAKI, &mut errors);
            let postal_code = text(r::POSTAL).and_then(|v| errors.check(path(r::POSTAL), v.parse()));
            match (prefecture, municipality, code, town, banchi) {
                (
                    Some(prefecture),
                    Some(municipality),
                    Some(local_government_code),
                    Some(town),
                    Some(banchi),
                ) => Some(Address {
                    prefecture,
                    municipality,
                    local_government_code,
                    town,
                    banchi,
                    katagaki,
                    postal_code,
                }),
                _ => None,
            }
        } else {
            None
        };
        let nationality = match text(r::NATIONALITY) {
            None | Some("japanese") => Some(Nationality::Japanese),
            Some("foreign") => match text(r::COUNTRY) {
                Some(country) => Some(Nationality::Foreign {
                    country: country.to_owned(),
                    residence_status: text(r::RESIDENCE_STATUS).map(str::to_owned),
                }),
                None => {
                    errors.push(ValidationError::at(
                        path(r::COUNTRY),
                        Rule::Other("is required for a foreign resident"),
                    ));
                    None
                }
            },
            Some(_) => {
                errors.push(ValidationError::at(
                    path(r::NATIONALITY),
                    Rule::Other("must be japanese or foreign"),
                ));
                None
            }
        };
        let status = match text(r::STATUS) {
            None => Some(ResidentStatus::Resident),
            Some(v) => match parse_status(v) {
                Some(s) => Some(s),
                None => {
                    errors.push(ValidationError::at(
                        path(r::STATUS),
                        Rule::UnknownCode { table: "resident status" },
                    ));
                    None
                }
            },
        };
        let resident_since = match &s[r::SINCE] {
            Some(Value::Date(d)) => Some(*d),
            _ => None,
        };
        let (
            Some(atena_number),
            Some(household_number),
            Some(family),
            Some(birth_date),
            Some(sex),
            Some(relationship),
            Some(nationality),
            Some(status),
        ) = (atena, household, family, birth_date, sex, relationship, nationality, status)
        else {
            if errors.is_empty() {
                errors.push(ValidationError::at(path(r::FAMILY), Rule::Required));
            }
            return Err(errors);
        };
        errors.into_result()?;
        let resident = Resident {
            atena_number,
            individual_number: individual,
            household_number,
            name: PersonName { family, given, family_kana, given_kana, alias, former_surname },
            birth_date,
            sex,
            relationship,
            address,
            nationality,
            status,
            resident_since,
        };
        resident.validate()?;
        Ok(resident)
    }

    /// The canonical record of an application (`fields.*` that this schema has no slot for are
    /// not carried: no mapping of the set reads them).
    pub fn from_application(schema: &Arc<Schema>, app: &Application) -> CanonicalRecord {
        debug_assert_eq!(schema.kind, CanonicalKind::Application);
        let mut rec = schema.record();
        rec.slots[a::PROCEDURE] = t(app.procedure.as_str());
        rec.slots[a::APPLICANT] = t(app.applicant.as_str());
        let subjects: Vec<String> = app.subjects.iter().map(|s| s.as_str().to_owned()).collect();
        rec.slots[a::SUBJECTS] = (!subjects.is_empty()).then_some(Value::List(subjects));
        rec.slots[a::LIFE_EVENT] = app.life_event.map(|e| Value::Text(e.code().to_owned()));
        let base = APPLICATION_PATHS.len();
        for (i, name) in schema.fields.iter().enumerate() {
            rec.slots[base + i] = app.fields.get(name).and_then(|f| opt_t(Some(f.value.as_str())));
        }
        rec
    }

    /// The application this record describes; its fields get `provenance`.
    pub fn to_application(&self, provenance: Provenance) -> Result<Application, ValidationErrors> {
        debug_assert_eq!(self.schema.kind, CanonicalKind::Application);
        let mut errors = ValidationErrors::new();
        let text = |slot: usize| self.slots[slot].as_ref().and_then(Value::as_text).filter(|t| !t.is_empty());
        let procedure = match text(a::PROCEDURE) {
            Some(p) => errors.check("procedure", p.parse::<ProcedureId>()),
            None => {
                errors.push(ValidationError::at("procedure", Rule::Required));
                None
            }
        };
        let applicant = match text(a::APPLICANT) {
            Some(p) => errors.check("applicant", AtenaNumber::parse(p)),
            None => {
                errors.push(ValidationError::at("applicant", Rule::Required));
                None
            }
        };
        let mut subjects = Vec::new();
        if let Some(Value::List(list)) = &self.slots[a::SUBJECTS] {
            for (i, s) in list.iter().enumerate() {
                if let Some(n) = errors.check(&format!("subjects[{i}]"), AtenaNumber::parse(s)) {
                    subjects.push(n);
                }
            }
        }
        // A record of a per-subject document is about its one subject.
        if let Some(n) = text(a::SUBJECT).and_then(|s| errors.check("subject", AtenaNumber::parse(s)))
            && !subjects.contains(&n)
        {
            subjects.push(n);
        }
        let life_event = text(a::LIFE_EVENT).and_then(|e| errors.check("life_event", e.parse::<LifeEvent>()));
        let mut fields = BTreeMap::new();
        for (i, name) in self.schema.fields.iter().enumerate() {
            if let Some(v) = text(APPLICATION_PATHS.len() + i) {
                let path = format!("fields.{name}");
                if let Some(value) = errors.check(&path, MojiText::new(v)) {
                    fields.insert(name.clone(), FieldValue { value, provenance });
                }
            }
        }
        errors.into_result()?;
        match (procedure, applicant) {
            (Some(procedure), Some(applicant)) => {
                Ok(Application { procedure, applicant, subjects, life_event, fields })
            }
            _ => unreachable!("missing parts were reported as errors"),
        }
    }

    /// The persons an application is for, by 宛名番号: its subjects, or its applicant alone when
    /// it names none.
    pub(crate) fn subjects_or_applicant(&self) -> Vec<String> {
        debug_assert_eq!(self.schema.kind, CanonicalKind::Application);
        match &self.slots[a::SUBJECTS] {
            Some(Value::List(list)) if !list.is_empty() => list.clone(),
            _ => self.slots[a::APPLICANT].as_ref().map(Value::to_text).into_iter().collect(),
        }
    }

    /// The same application seen as the record of one of its persons (`subject`).
    pub(crate) fn for_subject(&self, subject: &str) -> CanonicalRecord {
        debug_assert_eq!(self.schema.kind, CanonicalKind::Application);
        let mut record = self.clone();
        record.slots[a::SUBJECT] = t(subject);
        record
    }

    /// Mark a resident record as coming from the change feed: the 異動事由 (renkei's code, e.g.
    /// `move_within`) and the day of the change.
    pub fn set_change(&mut self, reason: &str, date: Date) {
        debug_assert_eq!(self.schema.kind, CanonicalKind::Resident);
        self.slots[r::CHANGE_REASON] = t(reason);
        self.slots[r::CHANGE_DATE] = Some(Value::Date(date));
    }

    /// Whether the record holds what the canonical model accepts for its kind (a resident, an
    /// application, a certificate's subject); every broken rule names its path, never the value.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        match self.schema.kind {
            CanonicalKind::Resident => self.to_resident().map(|_| ()),
            CanonicalKind::Application => self.to_application(Provenance::Staff).map(|_| ()),
            CanonicalKind::Certificate => {
                self.certificate_subject().map(|_| ()).map_err(ValidationErrors::from)
            }
        }
    }

    /// The subject of a certificate record, checked.
    pub fn certificate_subject(&self) -> Result<AtenaNumber, ValidationError> {
        let v = self.slots[c::SUBJECT]
            .as_ref()
            .and_then(Value::as_text)
            .ok_or(ValidationError::at("subject", Rule::Required))?;
        AtenaNumber::parse(v).map_err(|e| e.under("subject"))
    }
}

fn sex_code(sex: Sex) -> &'static str {
    match sex {
        Sex::NotKnown => "not_known",
        Sex::Male => "male",
        Sex::Female => "female",
        Sex::NotApplicable => "not_applicable",
    }
}

fn parse_sex(v: &str) -> Option<Sex> {
    [Sex::NotKnown, Sex::Male, Sex::Female, Sex::NotApplicable].into_iter().find(|s| sex_code(*s) == v)
}

fn status_code(status: ResidentStatus) -> &'static str {
    match status {
        ResidentStatus::Resident => "resident",
        ResidentStatus::MovedOut => "moved_out",
        ResidentStatus::Deceased => "deceased",
        ResidentStatus::Removed => "removed",
    }
}

fn parse_status(v: &str) -> Option<ResidentStatus> {
    [ResidentStatus::Resident, ResidentStatus::MovedOut, ResidentStatus::Deceased, ResidentStatus::Removed]
        .into_iter()
        .find(|s| status_code(*s) == v)
}

fn json_scalar_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn flatten<'a>(json: &'a serde_json::Value, prefix: String, out: &mut Vec<(String, &'a serde_json::Value)>) {
    match json {
        serde_json::Value::Object(map) if prefix != "fields" => {
            for (k, v) in map {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(v, path, out);
            }
        }
        // Form-field names contain dots themselves: each key under `fields` is one name.
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.push((format!("fields.{k}"), v));
            }
        }
        leaf => out.push((prefix, leaf)),
    }
}

pub(crate) fn insert_path(
    root: &mut serde_json::Map<String, serde_json::Value>,
    path: &str,
    value: serde_json::Value,
) {
    let (head, rest) = match path.split_once('.') {
        Some(("fields", rest)) => ("fields", Some(rest)),
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    match rest {
        None => {
            root.insert(head.to_owned(), value);
        }
        Some(rest) => {
            let child =
                root.entry(head.to_owned()).or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let serde_json::Value::Object(map) = child {
                if head == "fields" {
                    map.insert(rest.to_owned(), value);
                } else {
                    insert_path(map, rest, value);
                }
            }
        }
    }
}
