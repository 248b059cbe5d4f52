//! Coded values of the resident record: sex (ISO 5218), 続柄, life events and resident status.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Rule, ValidationError};

/// Sex as coded by ISO 5218 (the code the resident record uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    NotKnown,
    Male,
    Female,
    NotApplicable,
}

impl Sex {
    /// The ISO 5218 code: 0 not known, 1 male, 2 female, 9 not applicable.
    pub fn iso5218(self) -> u8 {
        match self {
            Sex::NotKnown => 0,
            Sex::Male => 1,
            Sex::Female => 2,
            Sex::NotApplicable => 9,
        }
    }

    pub fn from_iso5218(code: u8) -> Result<Self, ValidationError> {
        match code {
            0 => Ok(Sex::NotKnown),
            1 => Ok(Sex::Male),
            2 => Ok(Sex::Female),
            9 => Ok(Sex::NotApplicable),
            _ => Err(ValidationError::new(Rule::UnknownCode { table: "sex (ISO 5218)" })),
        }
    }

    /// 男, 女 as printed on a 住民票; empty for the other two.
    pub fn kanji(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
            Sex::NotKnown | Sex::NotApplicable => "",
        }
    }
}

/// One link of a 続柄 chain, as the resident record writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kin {
    Husband,
    Wife,
    /// 夫(未届): a common-law husband.
    HusbandUnregistered,
    /// 妻(未届): a common-law wife.
    WifeUnregistered,
    Child,
    Father,
    Mother,
    ElderBrother,
    ElderSister,
    YoungerBrother,
    YoungerSister,
}

const KIN_TERMS: [(Kin, &str); 11] = [
    (Kin::HusbandUnregistered, "夫(未届)"),
    (Kin::WifeUnregistered, "妻(未届)"),
    (Kin::Husband, "夫"),
    (Kin::Wife, "妻"),
    (Kin::Child, "子"),
    (Kin::Father, "父"),
    (Kin::Mother, "母"),
    (Kin::ElderBrother, "兄"),
    (Kin::ElderSister, "姉"),
    (Kin::YoungerBrother, "弟"),
    (Kin::YoungerSister, "妹"),
];

impl Kin {
    pub fn term(self) -> &'static str {
        KIN_TERMS.iter().find(|(k, _)| *k == self).map(|(_, t)| *t).expect("every kin has a term")
    }

    /// Generations up (+1 parent) or down (−1 child) this link moves.
    pub fn generation_step(self) -> i32 {
        match self {
            Kin::Child => -1,
            Kin::Father | Kin::Mother => 1,
            _ => 0,
        }
    }
}

/// 続柄: the relationship to the head of the household, as the resident record writes it.
/// Kin terms chain with 「の」 (子の妻, 父の母, 子の子); the standard writes 子の子 rather than 孫
/// and 父の父 rather than 祖父.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Relationship {
    /// 世帯主
    Head,
    /// A chain of kin terms read from the head: `[Child, Wife]` is 子の妻.
    Kin(Vec<Kin>),
    /// 縁故者: a relative not otherwise described.
    Relative,
    /// 同居人: a person living in the household who is not family.
    Lodger,
}

impl Relationship {
    /// Chains hold at most four terms, so they reach at most four generations from the head
    /// (子の子の子の子).
    pub const MAX_TERMS: usize = 4;

    pub fn child() -> Self {
        Relationship::Kin(vec![Kin::Child])
    }

    /// Generations from the head: −1 for a child, −2 for 子の子, +1 for a parent.
    pub fn generation(&self) -> i32 {
        match self {
            Relationship::Kin(chain) => chain.iter().map(|k| k.generation_step()).sum(),
            _ => 0,
        }
    }

    /// The head's spouse, registered or not.
    pub fn is_spouse_of_head(&self) -> bool {
        matches!(self, Relationship::Kin(c) if c.len() == 1
            && matches!(c[0], Kin::Husband | Kin::Wife | Kin::HusbandUnregistered | Kin::WifeUnregistered))
    }
}

impl fmt::Display for Relationship {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Relationship::Head => f.write_str("世帯主"),
            Relationship::Relative => f.write_str("縁故者"),
            Relationship::Lodger => f.write_str("同居人"),
            Relationship::Kin(chain) => {
                for (i, k) in chain.iter().enumerate() {
                    if i > 0 {
                        f.write_str("の")?;
                    }
                    f.write_str(k.term())?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for Relationship {
    type Err = ValidationError;

    /// Reads 世帯主, 縁故者, 同居人 and 「の」 chains; 未届 may be written with full-width
    /// parentheses (妻（未届）).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || ValidationError::new(Rule::UnknownCode { table: "続柄" });
        let s = s.trim().replace('（', "(").replace('）', ")");
        match s.as_str() {
            "世帯主" => return Ok(Relationship::Head),
            "縁故者" => return Ok(Relationship::Relative),
            "同居人" => return Ok(Relationship::Lodger),
            _ => {}
        }
        let mut chain = Vec::new();
        for term in s.split('の') {
            let kin = KIN_TERMS.iter().find(|(_, t)| *t == term).map(|(k, _)| *k).ok_or_else(unknown)?;
            chain.push(kin);
        }
        if chain.len() > Self::MAX_TERMS {
            return Err(ValidationError::new(Rule::Other("続柄 chains hold at most four terms")));
        }
        Ok(Relationship::Kin(chain))
    }
}

impl Serialize for Relationship {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Relationship {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The life events the counter handles; each starts a set of procedures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifeEvent {
    /// 転入 from another municipality in Japan.
    MoveIn,
    /// 転入 from abroad (国外転入).
    MoveInFromAbroad,
    /// 転出 to another municipality in Japan.
    MoveOut,
    /// 転出 abroad (国外転出).
    MoveOutAbroad,
    /// 転居: a move within the municipality.
    MoveWithin,
    /// 出生
    Birth,
    /// 死亡
    Death,
    /// 婚姻
    Marriage,
    /// 離婚
    Divorce,
    /// 世帯変更: 世帯分離, 世帯合併, 世帯主変更.
    HouseholdChange,
}

impl LifeEvent {
    pub const ALL: [LifeEvent; 10] = [
        LifeEvent::MoveIn,
        LifeEvent::MoveInFromAbroad,
        LifeEvent::MoveOut,
        LifeEvent::MoveOutAbroad,
        LifeEvent::MoveWithin,
        LifeEvent::Birth,
        LifeEvent::Death,
        LifeEvent::Marriage,
        LifeEvent::Divorce,
        LifeEvent::HouseholdChange,
    ];

    /// The label staff and residents read.
    pub fn label(self) -> &'static str {
        match self {
            LifeEvent::MoveIn => "転入",
            LifeEvent::MoveInFromAbroad => "国外転入",
            LifeEvent::MoveOut => "転出",
            LifeEvent::MoveOutAbroad => "国外転出",
            LifeEvent::MoveWithin => "転居",
            LifeEvent::Birth => "出生",
            LifeEvent::Death => "死亡",
            LifeEvent::Marriage => "婚姻",
            LifeEvent::Divorce => "離婚",
            LifeEvent::HouseholdChange => "世帯変更",
        }
    }

    /// The snake_case code used in files and on the wire (`move_in`, `birth`, …).
    pub fn code(self) -> &'static str {
        match self {
            LifeEvent::MoveIn => "move_in",
            LifeEvent::MoveInFromAbroad => "move_in_from_abroad",
            LifeEvent::MoveOut => "move_out",
            LifeEvent::MoveOutAbroad => "move_out_abroad",
            LifeEvent::MoveWithin => "move_within",
            LifeEvent::Birth => "birth",
            LifeEvent::Death => "death",
            LifeEvent::Marriage => "marriage",
            LifeEvent::Divorce => "divorce",
            LifeEvent::HouseholdChange => "household_change",
        }
    }
}

impl FromStr for LifeEvent {
    type Err = ValidationError;
    /// Reads the code (`move_in`) or the label (転入).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LifeEvent::ALL
            .into_iter()
            .find(|e| e.code() == s || e.label() == s)
            .ok_or(ValidationError::new(Rule::UnknownCode { table: "life event" }))
    }
}

impl fmt::Display for LifeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Whether the person is still a resident of the municipality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidentStatus {
    /// 住民: registered and living here.
    Resident,
    /// 転出者: moved out (the record is kept).
    MovedOut,
    /// 死亡者
    Deceased,
    /// 消除者: removed by the municipality (職権消除).
    Removed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sex_codes_are_iso5218() {
        for sex in [Sex::NotKnown, Sex::Male, Sex::Female, Sex::NotApplicable] {
            assert_eq!(Sex::from_iso5218(sex.iso5218()).unwrap(), sex);
        }
        assert_eq!(Sex::from_iso5218(3).unwrap_err().rule, Rule::UnknownCode { table: "sex (ISO 5218)" });
    }

    #[test]
    fn relationship_chains() {
        for text in [
            "世帯主",
            "妻",
            "夫(未届)",
            "子",
            "子の妻",
            "子の子",
            "父の母",
            "妻の子",
            "子の子の子の子",
            "縁故者",
            "同居人",
        ] {
            let r: Relationship = text.parse().unwrap();
            assert_eq!(r.to_string(), text);
        }
        assert_eq!("妻（未届）".parse::<Relationship>().unwrap().to_string(), "妻(未届)");
        assert_eq!("子の子".parse::<Relationship>().unwrap().generation(), -2);
        assert!("妻".parse::<Relationship>().unwrap().is_spouse_of_head());
        assert!(!"子の妻".parse::<Relationship>().unwrap().is_spouse_of_head());
    }

    #[test]
    fn relationship_refusals() {
        for text in ["孫", "祖父", "子の", "世帯主の子", "", "子の子の子の子の子"] {
            assert!(text.parse::<Relationship>().is_err(), "{text}");
        }
        let e = "父の父の父の父の父".parse::<Relationship>().unwrap_err();
        assert!(matches!(e.rule, Rule::Other(_)));
    }

    #[test]
    fn life_events_read_codes_and_labels() {
        for e in LifeEvent::ALL {
            assert_eq!(e.code().parse::<LifeEvent>().unwrap(), e);
            assert_eq!(e.label().parse::<LifeEvent>().unwrap(), e);
        }
        assert!("引越し".parse::<LifeEvent>().is_err());
    }
}
