//! What rules and prefill expressions read: residents, households and evidence as CEL values.
//!
//! Every value is computed here once per call, so expressions in the data files stay short:
//! ages are whole years on the day of the visit, `school_age` is the age on 1 April that began
//! the current school year (which decides the grade in Japan), names are as the record writes
//! them (IVS selectors kept).

use std::collections::HashMap;

use crate::expr::cel::Value;
use renkei_model::{Date, EvidenceSource, Household, IdentityEvidence, Nationality, Provenance, Resident};

/// 1 April of the school year `today` falls in.
pub fn school_year_start(today: Date) -> Date {
    let year = if today.month() >= 4 { today.year() } else { today.year() - 1 };
    Date::from_ymd(year, 4, 1).expect("1 April exists")
}

/// 小学1年 … 中学3年 for the school ages of compulsory education; 高校生年代 for 15–17.
pub fn grade(school_age: u32) -> String {
    match school_age {
        6..=11 => format!("小学{}年", school_age - 5),
        12..=14 => format!("中学{}年", school_age - 11),
        15..=17 => "高校生年代".to_owned(),
        _ => String::new(),
    }
}

fn text(s: impl Into<String>) -> Value {
    Value::String(std::sync::Arc::new(s.into()))
}

/// One person as a CEL map.
pub fn person(r: &Resident, today: Date, is_subject: bool) -> Value {
    let school_age = r.birth_date.age_on(school_year_start(today));
    let (nationality, residence_status) = match &r.nationality {
        Nationality::Japanese => (String::new(), String::new()),
        Nationality::Foreign { country, residence_status } => {
            (country.clone(), residence_status.clone().unwrap_or_default())
        }
    };
    let address = r.address.as_ref();
    let part = |f: fn(&renkei_model::Address) -> String| text(address.map(f).unwrap_or_default());
    let map: HashMap<&str, Value> = HashMap::from([
        ("atena_number", text(r.atena_number.as_str())),
        ("household_number", text(r.household_number.as_str())),
        ("name", text(r.name.full().into_string())),
        ("name_kana", text(r.name.full_kana().unwrap_or_default())),
        ("family", text(r.name.family.as_str())),
        ("given", text(r.name.given.as_str())),
        ("alias", text(r.name.alias.as_ref().map(|a| a.name.to_string()).unwrap_or_default())),
        ("age", Value::Int(i64::from(r.age_on(today)))),
        ("school_age", Value::Int(i64::from(school_age))),
        ("grade", text(grade(school_age))),
        ("birth_date", text(r.birth_date.to_string())),
        (
            "birth_date_wareki",
            text(r.birth_date.to_wareki_string().unwrap_or_else(|_| r.birth_date.to_string())),
        ),
        ("sex", text(serde_code(&r.sex))),
        ("sex_label", text(r.sex.kanji())),
        ("relationship", text(r.relationship.to_string())),
        ("generation", Value::Int(i64::from(r.relationship.generation()))),
        ("is_head", Value::Bool(r.relationship == renkei_model::Relationship::Head)),
        ("is_spouse", Value::Bool(r.relationship.is_spouse_of_head())),
        ("foreign", Value::Bool(r.is_foreign())),
        ("nationality", text(nationality)),
        ("residence_status", text(residence_status)),
        ("address", part(|a| a.one_line())),
        ("postal_code", part(|a| a.postal_code.as_ref().map(|p| p.hyphenated()).unwrap_or_default())),
        ("prefecture", part(|a| a.prefecture.to_string())),
        ("municipality", part(|a| a.municipality.to_string())),
        ("town", part(|a| a.town.to_string())),
        ("banchi", part(|a| a.banchi.to_string())),
        ("katagaki", part(|a| a.katagaki.as_ref().map(|k| k.to_string()).unwrap_or_default())),
        ("status", text(serde_code(&r.status))),
        ("is_subject", Value::Bool(is_subject)),
    ]);
    Value::from(map)
}

/// The snake_case code serde gives a unit enum variant (`female`, `resident`).
fn serde_code<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The household: `number`, `size`, `head` and `members` (head first).
pub fn household(h: &Household, today: Date, subject: Option<&renkei_model::AtenaNumber>) -> Value {
    let members: Vec<Value> =
        h.members.iter().map(|m| person(m, today, Some(&m.atena_number) == subject)).collect();
    let head = h
        .members
        .iter()
        .position(|m| m.relationship == renkei_model::Relationship::Head)
        .map(|i| members[i].clone())
        .unwrap_or(Value::Null);
    Value::from(HashMap::from([
        ("number", text(h.household_number.as_str())),
        ("size", Value::Int(h.members.len() as i64)),
        ("head", head),
        ("members", Value::List(std::sync::Arc::new(members))),
    ]))
}

/// What the card, QR code or document said, or an empty map when nothing was shown.
pub fn evidence(e: Option<&IdentityEvidence>) -> Value {
    let mut map: HashMap<&str, Value> = HashMap::new();
    if let Some(e) = e {
        let f = &e.facts;
        map.insert("name", text(f.name.as_str()));
        if let Some(k) = &f.name_kana {
            map.insert("name_kana", text(k.as_str()));
        }
        if let Some(a) = &f.address {
            map.insert("address", text(a.as_str()));
        }
        map.insert("birth_date", text(f.birth_date.to_string()));
        if let Ok(w) = f.birth_date.to_wareki_string() {
            map.insert("birth_date_wareki", text(w));
        }
        map.insert("sex_label", text(f.sex.kanji()));
    }
    Value::from(map)
}

/// Where a value read from `evidence` came from.
pub fn evidence_provenance(e: &IdentityEvidence) -> Provenance {
    match e.source {
        EvidenceSource::Card { .. } => Provenance::Card,
        EvidenceSource::Qr => Provenance::Qr,
        EvidenceSource::Ocr { .. } => Provenance::Ocr,
        EvidenceSource::Online => Provenance::Online,
        EvidenceSource::Manual => Provenance::Staff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn school_ages_follow_the_april_school_year() {
        let d = |y, m, day| Date::from_ymd(y, m, day).unwrap();
        assert_eq!(school_year_start(d(2026, 11, 21)), d(2026, 4, 1));
        assert_eq!(school_year_start(d(2027, 3, 31)), d(2026, 4, 1));
        // Born on 1 April: the oldest of the grade below those born on 2 April of the year before.
        let start = d(2026, 4, 1);
        assert_eq!(d(2020, 4, 1).age_on(start), 6);
        assert_eq!(d(2020, 4, 2).age_on(start), 5);
        assert_eq!(grade(6), "小学1年");
        assert_eq!(grade(14), "中学3年");
        assert_eq!(grade(5), "");
    }
}
