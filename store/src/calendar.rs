//! The city's business days, for how far back backups reach: not a Saturday or Sunday, not a
//! national holiday, not 12/29–1/3 (the year-end closing most cities' 休日条例 set under 地方自治法
//! 第4条の2). The national holidays are a list (`holidays-jp.txt`, from the Cabinet Office), not
//! rules, so a new year is a line of data and a city may use its own calendar instead.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{Datelike, NaiveDate, Weekday};

/// Business days and closed days.
#[derive(Debug, Clone)]
pub struct Calendar {
    holidays: BTreeSet<NaiveDate>,
    /// The last day the list covers: later days are counted without their holidays.
    covers_until: Option<NaiveDate>,
}

impl Calendar {
    /// Japan's national holidays as shipped with renkei.
    pub fn japan() -> Calendar {
        Calendar::parse(include_str!("holidays-jp.txt"), "holidays-jp.txt").expect("the shipped list parses")
    }

    /// A list of closed days in the shipped list's form (`YYYY-MM-DD name`, `#` comments).
    pub fn from_file(path: &Path) -> Result<Calendar, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Calendar::parse(&text, &path.display().to_string())
    }

    fn parse(text: &str, source: &str) -> Result<Calendar, String> {
        let mut holidays = BTreeSet::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let date = line.split_whitespace().next().unwrap_or_default();
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|e| format!("{source}: line {}: not a YYYY-MM-DD date ({e})", n + 1))?;
            holidays.insert(date);
        }
        let covers_until = holidays.last().and_then(|d| NaiveDate::from_ymd_opt(d.year(), 12, 31));
        Ok(Calendar { holidays, covers_until })
    }

    /// Whether the last day the holiday list covers is before `day` (a list to extend).
    pub fn outdated_for(&self, day: NaiveDate) -> bool {
        self.covers_until.is_none_or(|until| day > until)
    }

    pub fn is_business_day(&self, day: NaiveDate) -> bool {
        let year_end = matches!((day.month(), day.day()), (12, 29..=31) | (1, 1..=3));
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !year_end && !self.holidays.contains(&day)
    }

    /// The `n`th business day before `day` (not counting `day`).
    pub fn business_days_before(&self, day: NaiveDate, n: usize) -> NaiveDate {
        let mut found = 0;
        let mut d = day;
        while found < n {
            d = d.pred_opt().expect("dates after the year 1 have a day before");
            if self.is_business_day(d) {
                found += 1;
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn weekends_holidays_and_the_year_end_are_closed() {
        let c = Calendar::japan();
        assert!(c.is_business_day(d(2026, 12, 28)));
        for closed in
            [d(2026, 12, 26), d(2026, 12, 29), d(2027, 1, 1), d(2027, 1, 3), d(2026, 9, 22), d(2027, 3, 22)]
        {
            assert!(!c.is_business_day(closed), "{closed}");
        }
        assert!(c.is_business_day(d(2027, 1, 4)));
    }

    #[test]
    fn two_business_days_back_skip_the_closed_ones() {
        let c = Calendar::japan();
        // Monday 4 January 2027: the year-end closing and the weekend before it are skipped.
        assert_eq!(c.business_days_before(d(2027, 1, 4), 2), d(2026, 12, 25));
        // The Wednesday after Golden Week 2026 (5/3–5/6 closed).
        assert_eq!(c.business_days_before(d(2026, 5, 7), 2), d(2026, 4, 30));
        assert!(!c.outdated_for(d(2027, 12, 31)));
        assert!(c.outdated_for(d(2028, 1, 1)));
    }
}
