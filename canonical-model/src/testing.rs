//! Synthetic households for tests of the crates above the model (feature `test-support`): every
//! person is invented, family name 試験, living at one address in 横浜市中区.

use crate::{
    Address, AtenaNumber, Date, Household, HouseholdNumber, MojiText, Nationality, PersonName, Resident,
    ResidentStatus, Sex,
};

/// Text known to be valid.
pub fn moji(s: &str) -> MojiText {
    MojiText::new(s).unwrap()
}

/// A member: given name, relationship, birth date (y, m, d), sex. The family name is 試験.
pub type Member<'a> = (&'a str, &'a str, (i32, u32, u32), Sex);

/// A household numbered `serial`; member `i` has 宛名番号 `serial * 10 + i`.
pub fn household(serial: u64, members: &[Member<'_>]) -> Household {
    let number = HouseholdNumber::from_serial(serial, 10).unwrap();
    let members = members
        .iter()
        .enumerate()
        .map(|(i, (given, rel, (y, m, d), sex))| Resident {
            atena_number: AtenaNumber::from_serial(serial * 10 + i as u64, 10).unwrap(),
            individual_number: None,
            household_number: number.clone(),
            name: PersonName {
                family: moji("試験"),
                given: moji(given),
                family_kana: None,
                given_kana: None,
                alias: None,
                former_surname: None,
            },
            birth_date: Date::from_ymd(*y, *m, *d).unwrap(),
            sex: *sex,
            relationship: rel.parse().unwrap(),
            address: Some(Address {
                prefecture: moji("神奈川県"),
                municipality: moji("横浜市中区"),
                local_government_code: "141046".parse().unwrap(),
                town: moji("山下町"),
                banchi: moji("1番地"),
                katagaki: None,
                postal_code: None,
            }),
            nationality: Nationality::Japanese,
            status: ResidentStatus::Resident,
            resident_since: None,
        })
        .collect();
    Household { household_number: number, members }
}
