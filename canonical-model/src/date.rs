//! Dates and their wareki (和暦) view.
//!
//! The canonical value is always the Gregorian date; an era name is only a way of writing it.
//! Era boundaries are the real ones: 昭和64年1月7日 is 1989-01-07 and 平成元年1月8日 the next day.
//! Wareki before 1873-01-01 (明治6年1月1日) is refused: until then Japan used a lunisolar
//! calendar, so the month and day of a 明治5年 date are not the Gregorian ones.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::{Rule, ValidationError};

/// A calendar date (Gregorian). Serialized as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Date(NaiveDate);

/// The Japanese eras in use since the Gregorian calendar was adopted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Era {
    Meiji,
    Taisho,
    Showa,
    Heisei,
    Reiwa,
}

/// The first day each era is used for, in order.
const ERA_STARTS: [(Era, (i32, u32, u32)); 5] = [
    // Gregorian calendar adopted on 明治6年1月1日; earlier 明治 dates are lunisolar.
    (Era::Meiji, (1873, 1, 1)),
    (Era::Taisho, (1912, 7, 30)),
    (Era::Showa, (1926, 12, 25)),
    (Era::Heisei, (1989, 1, 8)),
    (Era::Reiwa, (2019, 5, 1)),
];

impl Era {
    pub const ALL: [Era; 5] = [Era::Meiji, Era::Taisho, Era::Showa, Era::Heisei, Era::Reiwa];

    /// 明治, 大正, 昭和, 平成, 令和.
    pub fn kanji(self) -> &'static str {
        match self {
            Era::Meiji => "明治",
            Era::Taisho => "大正",
            Era::Showa => "昭和",
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }

    /// The one-letter abbreviation: M, T, S, H, R.
    pub fn letter(self) -> char {
        match self {
            Era::Meiji => 'M',
            Era::Taisho => 'T',
            Era::Showa => 'S',
            Era::Heisei => 'H',
            Era::Reiwa => 'R',
        }
    }

    /// The era code used in fixed-length records and on cards: 1 明治 … 5 令和.
    pub fn code(self) -> u8 {
        self as u8 + 1
    }

    pub fn from_code(code: u8) -> Option<Era> {
        Era::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }

    /// The Gregorian year of the era's first year (元年).
    pub fn first_gregorian_year(self) -> i32 {
        match self {
            Era::Meiji => 1868,
            Era::Taisho => 1912,
            Era::Showa => 1926,
            Era::Heisei => 1989,
            Era::Reiwa => 2019,
        }
    }

    fn start(self) -> NaiveDate {
        let (y, m, d) = ERA_STARTS[self as usize].1;
        NaiveDate::from_ymd_opt(y, m, d).expect("era start is a valid date")
    }

    /// The first day *after* the era, if it has ended.
    fn end(self) -> Option<NaiveDate> {
        Era::ALL.get(self as usize + 1).map(|next| next.start())
    }

    fn from_name(name: &str) -> Option<Era> {
        Era::ALL.into_iter().find(|e| {
            e.kanji() == name
                || name.len() == 1 && name.chars().next().is_some_and(|c| c.eq_ignore_ascii_case(&e.letter()))
        })
    }
}

impl fmt::Display for Era {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kanji())
    }
}

/// A date written in an era: 令和元年5月1日 is `Wareki { era: Reiwa, year: 1, month: 5, day: 1 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Wareki {
    pub era: Era,
    pub year: u32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Result<Self, ValidationError> {
        NaiveDate::from_ymd_opt(year, month, day)
            .map(Date)
            .ok_or(ValidationError::new(Rule::Date("no such day")))
    }

    pub fn naive(self) -> NaiveDate {
        self.0
    }

    pub fn year(self) -> i32 {
        self.0.year()
    }

    pub fn month(self) -> u32 {
        self.0.month()
    }

    pub fn day(self) -> u32 {
        self.0.day()
    }

    /// Age in completed years on `on`, counting from the birthday itself (someone born on
    /// 29 February turns a year older on 1 March in common years). The legal reckoning
    /// (年齢計算ニ関スル法律) reaches the age at the end of the day before the birthday; rules with
    /// a cut-off that depends on it (school years start for those who turn 6 by 1 April) say so.
    pub fn age_on(self, on: Date) -> u32 {
        let mut age = on.year() - self.year();
        if (on.month(), on.day()) < (self.month(), self.day()) {
            age -= 1;
        }
        age.max(0) as u32
    }

    /// This date in its era. Fails before 1873-01-01 (see the module docs).
    pub fn to_wareki(self) -> Result<Wareki, ValidationError> {
        let era = Era::ALL.into_iter().rev().find(|e| self.0 >= e.start()).ok_or(ValidationError::new(
            Rule::Era {
                era: "明治",
                reason: "wareki is supported from 1873-01-01, when the Gregorian calendar was adopted",
            },
        ))?;
        Ok(Wareki {
            era,
            year: (self.year() - era.first_gregorian_year() + 1) as u32,
            month: self.month(),
            day: self.day(),
        })
    }

    /// `令和元年5月1日`.
    pub fn to_wareki_string(self) -> Result<String, ValidationError> {
        self.to_wareki().map(|w| w.to_string())
    }

    /// `YYYYMMDD`, the form most core-system layouts use.
    pub fn to_yyyymmdd(self) -> String {
        self.0.format("%Y%m%d").to_string()
    }

    pub fn parse_yyyymmdd(s: &str) -> Result<Self, ValidationError> {
        let digits = parse_digits(s, 8)?;
        Date::from_ymd(digits as i32 / 10_000, (digits / 100 % 100) as u32, (digits % 100) as u32)
    }

    /// Accepts `YYYY-MM-DD`, `YYYYMMDD`, and any wareki form [`Wareki::from_str`] reads.
    pub fn parse_any(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(Date(d));
        }
        if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
            return Date::parse_yyyymmdd(s);
        }
        s.parse::<Wareki>()?.to_date()
    }

    pub fn today() -> Self {
        Date(chrono::Local::now().date_naive())
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl FromStr for Date {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Date::parse_any(s)
    }
}

impl From<NaiveDate> for Date {
    fn from(d: NaiveDate) -> Self {
        Date(d)
    }
}

impl Wareki {
    /// The Gregorian date, checked to fall inside the era (平成31年5月1日 does not exist: that day
    /// is 令和元年5月1日).
    pub fn to_date(self) -> Result<Date, ValidationError> {
        let era_name = self.era.kanji();
        if self.year == 0 {
            return Err(ValidationError::new(Rule::Era {
                era: era_name, reason: "years start at 元年 (1)"
            }));
        }
        let year = self.era.first_gregorian_year() + self.year as i32 - 1;
        let date = Date::from_ymd(year, self.month, self.day)?;
        if date.0 < self.era.start() {
            return Err(ValidationError::new(Rule::Era { era: era_name, reason: "before the era began" }));
        }
        if self.era.end().is_some_and(|end| date.0 >= end) {
            return Err(ValidationError::new(Rule::Era { era: era_name, reason: "after the era ended" }));
        }
        Ok(date)
    }

    /// Era code + YYMMDD, seven digits: 令和元年5月1日 is `5010501`. Used on driver's licenses and in
    /// fixed-length records.
    pub fn to_code_form(self) -> String {
        format!("{}{:02}{:02}{:02}", self.era.code(), self.year, self.month, self.day)
    }

    pub fn parse_code_form(s: &str) -> Result<Self, ValidationError> {
        let digits = parse_digits(s, 7)?;
        let era = Era::from_code((digits / 1_000_000) as u8)
            .ok_or(ValidationError::new(Rule::UnknownCode { table: "era" }))?;
        let w = Wareki {
            era,
            year: (digits / 10_000 % 100) as u32,
            month: (digits / 100 % 100) as u32,
            day: (digits % 100) as u32,
        };
        w.to_date()?;
        Ok(w)
    }

    /// `R01.05.01`: the short form printed on many forms.
    pub fn to_short_form(self) -> String {
        format!("{}{:02}.{:02}.{:02}", self.era.letter(), self.year, self.month, self.day)
    }
}

impl fmt::Display for Wareki {
    /// `令和元年5月1日`, `平成31年4月30日`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.year == 1 {
            write!(f, "{}元年{}月{}日", self.era, self.month, self.day)
        } else {
            write!(f, "{}{}年{}月{}日", self.era, self.year, self.month, self.day)
        }
    }
}

impl FromStr for Wareki {
    type Err = ValidationError;

    /// Reads `令和元年5月1日`, `令和1年05月01日`, full-width digits (`令和１年５月１日`), and the short
    /// forms `R1.5.1`, `R01.05.01`, `H31/4/30`. The result is checked to fall inside its era.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why| ValidationError::new(Rule::Date(why));
        let s: String = s
            .trim()
            .chars()
            .map(|c| match c {
                '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
                _ => c,
            })
            .collect();
        let (era, rest) = if let Some(era) = Era::ALL.into_iter().find(|e| s.starts_with(e.kanji())) {
            (era, &s[era.kanji().len()..])
        } else {
            let first = s.chars().next().ok_or(bad("empty"))?;
            let era = Era::from_name(&first.to_string()).ok_or(bad("unknown era"))?;
            (era, &s[first.len_utf8()..])
        };
        let rest = rest.replacen('元', "1", 1);
        let parts: Vec<&str> =
            rest.split(['年', '月', '日', '.', '/', '-']).filter(|p| !p.is_empty()).collect();
        let [y, m, d] = parts[..] else {
            return Err(bad("expected era, year, month and day"));
        };
        let num = |p: &str| p.trim().parse::<u32>().map_err(|_| bad("year, month and day must be numbers"));
        let w = Wareki { era, year: num(y)?, month: num(m)?, day: num(d)? };
        w.to_date()?;
        Ok(w)
    }
}

fn parse_digits(s: &str, len: usize) -> Result<u64, ValidationError> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValidationError::new(Rule::Digits(len)));
    }
    s.parse().map_err(|_| ValidationError::new(Rule::Digits(len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date::from_ymd(y, m, day).unwrap()
    }

    #[test]
    fn era_boundaries_are_the_real_ones() {
        let cases = [
            ((1912, 7, 29), "明治45年7月29日"),
            ((1912, 7, 30), "大正元年7月30日"),
            ((1926, 12, 24), "大正15年12月24日"),
            ((1926, 12, 25), "昭和元年12月25日"),
            ((1989, 1, 7), "昭和64年1月7日"),
            ((1989, 1, 8), "平成元年1月8日"),
            ((2019, 4, 30), "平成31年4月30日"),
            ((2019, 5, 1), "令和元年5月1日"),
            ((1873, 1, 1), "明治6年1月1日"),
        ];
        for ((y, m, day), text) in cases {
            assert_eq!(d(y, m, day).to_wareki_string().unwrap(), text);
            assert_eq!(Date::parse_any(text).unwrap(), d(y, m, day), "{text}");
        }
    }

    #[test]
    fn dates_outside_their_era_are_refused() {
        for text in
            ["平成31年5月1日", "昭和64年1月8日", "令和元年4月30日", "平成0年1月1日", "大正元年7月29日"]
        {
            let e = text.parse::<Wareki>().unwrap_err();
            assert!(matches!(e.rule, Rule::Era { .. }), "{text}: {e}");
        }
        assert!(matches!(d(1872, 12, 31).to_wareki().unwrap_err().rule, Rule::Era { .. }));
        assert!(matches!("令和2年2月30日".parse::<Wareki>().unwrap_err().rule, Rule::Date(_)));
    }

    #[test]
    fn short_full_width_and_code_forms() {
        let reiwa1 = d(2019, 5, 1);
        for text in ["R1.5.1", "R01.05.01", "r1/5/1", "令和１年５月１日", "令和1年05月01日"] {
            assert_eq!(Date::parse_any(text).unwrap(), reiwa1, "{text}");
        }
        let w = reiwa1.to_wareki().unwrap();
        assert_eq!(w.to_short_form(), "R01.05.01");
        assert_eq!(w.to_code_form(), "5010501");
        assert_eq!(Wareki::parse_code_form("5010501").unwrap(), w);
        assert_eq!(Wareki::parse_code_form("4310430").unwrap().to_date().unwrap(), d(2019, 4, 30));
        assert!(Wareki::parse_code_form("4310501").is_err()); // 平成31年5月1日 does not exist
        assert!(Wareki::parse_code_form("6010101").is_err()); // no era 6
        assert!(Wareki::parse_code_form("501050").is_err());
    }

    #[test]
    fn yyyymmdd_round_trip_and_errors() {
        assert_eq!(Date::parse_yyyymmdd("20240229").unwrap(), d(2024, 2, 29));
        assert_eq!(Date::parse_yyyymmdd("20230229").unwrap_err().rule, Rule::Date("no such day"));
        assert_eq!(Date::parse_yyyymmdd("2024-02-2").unwrap_err().rule, Rule::Digits(8));
        assert_eq!(d(1999, 12, 31).to_yyyymmdd(), "19991231");
    }

    #[test]
    fn age_counts_completed_years() {
        let birth = d(2018, 4, 2);
        assert_eq!(birth.age_on(d(2024, 4, 1)), 5);
        assert_eq!(birth.age_on(d(2024, 4, 2)), 6);
        let leap = d(2020, 2, 29);
        assert_eq!(leap.age_on(d(2021, 2, 28)), 0);
        assert_eq!(leap.age_on(d(2021, 3, 1)), 1);
    }

    fn any_supported_date() -> impl Strategy<Value = Date> {
        // 1873-01-01 ..= 2099-12-31
        (0i64..83_200)
            .prop_map(|n| Date(NaiveDate::from_ymd_opt(1873, 1, 1).unwrap() + chrono::Days::new(n as u64)))
    }

    proptest! {
        #[test]
        fn wareki_round_trips(date in any_supported_date()) {
            let w = date.to_wareki().unwrap();
            prop_assert_eq!(w.to_date().unwrap(), date);
            prop_assert_eq!(w.to_string().parse::<Wareki>().unwrap(), w);
            prop_assert_eq!(w.to_short_form().parse::<Wareki>().unwrap(), w);
            prop_assert_eq!(Wareki::parse_code_form(&w.to_code_form()).unwrap(), w);
        }

        #[test]
        fn yyyymmdd_round_trips(date in any_supported_date()) {
            prop_assert_eq!(Date::parse_yyyymmdd(&date.to_yyyymmdd()).unwrap(), date);
            prop_assert_eq!(date.to_string().parse::<Date>().unwrap(), date);
        }
    }
}
