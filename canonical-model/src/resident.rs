//! Residents, their names and addresses, and households.

use serde::{Deserialize, Serialize};

use crate::codes::{Relationship, ResidentStatus, Sex};
use crate::date::Date;
use crate::error::{Rule, ValidationError, ValidationErrors};
use crate::ids::{AtenaNumber, HouseholdNumber, IndividualNumber, LocalGovernmentCode, PostalCode};
use crate::moji::{MojiText, is_name_katakana};

/// Name kana (フリガナ), held in full-width katakana.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KanaText(MojiText);

impl KanaText {
    /// Accepts katakana, hiragana or half-width katakana, and stores full-width katakana.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let text = MojiText::new(s)?.to_fullwidth_katakana();
        if !text.as_str().chars().all(is_name_katakana) {
            return Err(ValidationError::new(Rule::Katakana));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn as_moji(&self) -> &MojiText {
        &self.0
    }
}

impl TryFrom<String> for KanaText {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        KanaText::parse(&s)
    }
}

impl From<KanaText> for String {
    fn from(k: KanaText) -> Self {
        k.0.into_string()
    }
}

/// A name with its reading.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NameWithKana {
    pub name: MojiText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kana: Option<KanaText>,
}

/// A person's name as the resident record holds it.
///
/// Foreign residents' names are held in `family` (the whole name as registered, usually in
/// Latin letters) with `given` empty where the record does not split it; the 通称 (alias) a
/// foreign resident has registered is what certificates and most forms show.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PersonName {
    pub family: MojiText,
    #[serde(default)]
    pub given: MojiText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_kana: Option<KanaText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_kana: Option<KanaText>,
    /// 通称: a registered alias (foreign residents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<NameWithKana>,
    /// 旧氏: a former surname the person has asked to be shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub former_surname: Option<NameWithKana>,
}

impl PersonName {
    /// The longest family or given name, in characters, that the canonical model accepts. Core
    /// systems with shorter items refuse or degrade at their adapter, never here.
    pub const MAX_CHARS: usize = 100;

    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if self.family.as_str().trim().is_empty() {
            errors.push(ValidationError::at("family", Rule::Required));
        }
        for (field, text) in [("family", &self.family), ("given", &self.given)] {
            if text.char_len() > Self::MAX_CHARS {
                errors.push(ValidationError::at(field, Rule::TooLong { max: Self::MAX_CHARS }));
            }
        }
        for (field, part) in [("alias", &self.alias), ("former_surname", &self.former_surname)] {
            if part.as_ref().is_some_and(|p| p.name.as_str().trim().is_empty()) {
                errors.push(ValidationError::at("name", Rule::Required).under(field));
            }
        }
        errors.into_result()
    }

    /// Family and given name joined by an ideographic space, as printed on a 住民票.
    pub fn full(&self) -> MojiText {
        if self.given.is_empty() {
            return self.family.clone();
        }
        MojiText::new(format!("{}\u{3000}{}", self.family, self.given)).expect("joined valid texts")
    }

    /// The reading of the full name, if both parts have one (or the name has no given part).
    pub fn full_kana(&self) -> Option<String> {
        match (&self.family_kana, &self.given_kana) {
            (Some(f), Some(g)) => Some(format!("{}\u{3000}{}", f.as_str(), g.as_str())),
            (Some(f), None) if self.given.is_empty() => Some(f.as_str().to_owned()),
            _ => None,
        }
    }
}

/// An address in Japan, split as the resident record splits it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Address {
    /// 都道府県: 東京都.
    pub prefecture: MojiText,
    /// 市区町村: 千代田区.
    pub municipality: MojiText,
    /// 全国地方公共団体コード of the municipality.
    pub local_government_code: LocalGovernmentCode,
    /// 町字: 霞が関一丁目.
    pub town: MojiText,
    /// 番地: 1番2号 or 1234番地.
    pub banchi: MojiText,
    /// 方書: building and room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub katagaki: Option<MojiText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<PostalCode>,
}

impl Address {
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        for (field, text) in [
            ("prefecture", &self.prefecture),
            ("municipality", &self.municipality),
            ("town", &self.town),
            ("banchi", &self.banchi),
        ] {
            if text.as_str().trim().is_empty() {
                errors.push(ValidationError::at(field, Rule::Required));
            }
        }
        errors.into_result()
    }

    /// The address on one line, as printed: 東京都千代田区霞が関一丁目1番2号　霞ビル101.
    pub fn one_line(&self) -> String {
        let mut s = format!("{}{}{}{}", self.prefecture, self.municipality, self.town, self.banchi);
        if let Some(k) = &self.katagaki {
            s.push('\u{3000}');
            s.push_str(k.as_str());
        }
        s
    }
}

/// Whether the person is a Japanese national or a foreign resident (外国人住民), with what the
/// record holds for the latter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Nationality {
    Japanese,
    Foreign {
        /// ISO 3166-1 alpha-2 code of the nationality or region (国籍・地域).
        country: String,
        /// 在留資格 code from the code table; absent for special permanent residents' records
        /// that carry a 特別永住者証明書 instead.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        residence_status: Option<String>,
    },
}

/// A person in the resident record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resident {
    pub atena_number: AtenaNumber,
    /// Present only when the caller is allowed to see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub individual_number: Option<IndividualNumber>,
    pub household_number: HouseholdNumber,
    pub name: PersonName,
    pub birth_date: Date,
    pub sex: Sex,
    /// 続柄 to the head of the household.
    pub relationship: Relationship,
    /// `None` for a person with no fixed address (住所不定), registered where the municipality
    /// decided (職権記載) or not at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    pub nationality: Nationality,
    pub status: ResidentStatus,
    /// The day the person became a resident here (住民となった年月日).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_since: Option<Date>,
}

impl Resident {
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if let Err(e) = self.name.validate() {
            errors.extend_under("name", e);
        }
        if let Some(address) = &self.address
            && let Err(e) = address.validate()
        {
            errors.extend_under("address", e);
        }
        if let Some(since) = self.resident_since
            && since < self.birth_date
        {
            errors.push(ValidationError::at("resident_since", Rule::Other("is before the birth date")));
        }
        errors.into_result()
    }

    pub fn age_on(&self, on: Date) -> u32 {
        self.birth_date.age_on(on)
    }

    pub fn is_foreign(&self) -> bool {
        matches!(self.nationality, Nationality::Foreign { .. })
    }
}

/// A household (世帯) and its members, head first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Household {
    pub household_number: HouseholdNumber,
    pub members: Vec<Resident>,
}

impl Household {
    pub fn head(&self) -> Option<&Resident> {
        self.members.iter().find(|m| m.relationship == Relationship::Head)
    }

    /// Exactly one head, and every member carries this household's number.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let heads = self.members.iter().filter(|m| m.relationship == Relationship::Head).count();
        if heads != 1 {
            errors.push(ValidationError::at("members", Rule::Other("must have exactly one 世帯主")));
        }
        for (i, m) in self.members.iter().enumerate() {
            let at = format!("members[{i}]");
            if m.household_number != self.household_number {
                errors.push(
                    ValidationError::at("household_number", Rule::Other("differs from the household's"))
                        .under(&at),
                );
            }
            if let Err(e) = m.validate() {
                errors.extend_under(&at, e);
            }
        }
        errors.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moji(s: &str) -> MojiText {
        MojiText::new(s).unwrap()
    }

    pub(crate) fn sample_address() -> Address {
        Address {
            prefecture: moji("東京都"),
            municipality: moji("千代田区"),
            local_government_code: "131016".parse().unwrap(),
            town: moji("霞が関一丁目"),
            banchi: moji("1番2号"),
            katagaki: Some(moji("霞ビル101")),
            postal_code: Some("100-0013".parse().unwrap()),
        }
    }

    #[test]
    fn kana_is_normalized_to_fullwidth_katakana() {
        assert_eq!(KanaText::parse("かつしか").unwrap().as_str(), "カツシカ");
        assert_eq!(KanaText::parse("ｶﾂｼｶ").unwrap().as_str(), "カツシカ");
        assert_eq!(KanaText::parse("葛飾").unwrap_err().rule, Rule::Katakana);
    }

    #[test]
    fn name_validation_names_the_field() {
        let name = PersonName {
            family: moji(""),
            given: moji(&"あ".repeat(101)),
            family_kana: None,
            given_kana: None,
            alias: Some(NameWithKana { name: moji(" "), kana: None }),
            former_surname: None,
        };
        let errors = name.validate().unwrap_err().to_string();
        assert_eq!(
            errors,
            "family: is required; given: is longer than 100 characters; alias.name: is required"
        );
    }

    #[test]
    fn full_name_keeps_selectors() {
        let name = PersonName {
            family: moji("葛\u{E0100}西"),
            given: moji("太郎"),
            family_kana: Some(KanaText::parse("カサイ").unwrap()),
            given_kana: Some(KanaText::parse("タロウ").unwrap()),
            alias: None,
            former_surname: None,
        };
        assert_eq!(name.full().as_str(), "葛\u{E0100}西\u{3000}太郎");
        assert_eq!(name.full_kana().unwrap(), "カサイ\u{3000}タロウ");
    }

    #[test]
    fn address_one_line_and_validation() {
        let a = sample_address();
        assert_eq!(a.one_line(), "東京都千代田区霞が関一丁目1番2号\u{3000}霞ビル101");
        let mut broken = a;
        broken.banchi = moji("");
        assert_eq!(broken.validate().unwrap_err().to_string(), "banchi: is required");
    }

    #[test]
    fn deserializing_checks_every_typed_field() {
        let json = r#"{"prefecture":"東京都","municipality":"千代田区","local_government_code":"131017",
            "town":"霞が関一丁目","banchi":"1番2号"}"#;
        let err = serde_json::from_str::<Address>(json).unwrap_err().to_string();
        assert!(err.contains("check digit"), "{err}");
    }
}
