//! The measures the city asked to see simply, per counter session: how long the resident was at
//! the counter (open to the last submission), how many form entries renkei filled instead of a
//! person writing them, and how many procedures of each pattern were taken.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::schema::{applications, sessions, submissions, work_items};
use super::{AnyConnection, StorageError};

/// One session's measures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionKpi {
    pub session_id: String,
    pub counter_id: String,
    pub staff_id: String,
    pub opened_at_ms: i64,
    /// The last SubmitApplications of the session, if any.
    pub last_submit_at_ms: Option<i64>,
    pub applications: i64,
    pub fields_total: i64,
    pub fields_prefilled: i64,
    /// Applications per pattern 1–4 (index 0 is pattern 1).
    pub per_pattern: [i64; 4],
    /// Applications that went to the backyard work queue, and those returned from it.
    pub backyard: i64,
    pub returned: i64,
}

impl SessionKpi {
    /// Seconds from opening the session to its last submission.
    pub fn seconds_to_submit(&self) -> Option<f64> {
        self.last_submit_at_ms.map(|t| (t - self.opened_at_ms) as f64 / 1000.0)
    }

    /// The CSV header matching [`SessionKpi::csv_row`].
    pub const CSV_HEADER: &'static str = "session_id,counter_id,staff_id,opened_at,last_submit_at,seconds_to_submit,applications,fields_total,fields_prefilled,fields_by_hand,pattern_1,pattern_2,pattern_3,pattern_4,backyard,returned";

    /// One CSV line; times in UTC (RFC 3339).
    pub fn csv_row(&self) -> String {
        let time = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default()
        };
        let field = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_owned()
            }
        };
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            field(&self.session_id),
            field(&self.counter_id),
            field(&self.staff_id),
            time(self.opened_at_ms),
            self.last_submit_at_ms.map(time).unwrap_or_default(),
            self.seconds_to_submit().map(|s| format!("{s:.1}")).unwrap_or_default(),
            self.applications,
            self.fields_total,
            self.fields_prefilled,
            self.fields_total - self.fields_prefilled,
            self.per_pattern[0],
            self.per_pattern[1],
            self.per_pattern[2],
            self.per_pattern[3],
            self.backyard,
            self.returned,
        )
    }
}

/// The sessions opened in `[from_ms, to_ms)`, oldest first, with their measures.
pub fn sessions_between(
    conn: &mut AnyConnection,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<SessionKpi>, StorageError> {
    let opened: Vec<(String, String, String, i64)> = sessions::table
        .filter(sessions::opened_at_ms.ge(from_ms).and(sessions::opened_at_ms.lt(to_ms)))
        .order((sessions::opened_at_ms, sessions::id))
        .select((sessions::id, sessions::counter_id, sessions::staff_id, sessions::opened_at_ms))
        .load(conn)?;
    let ids: Vec<String> = opened.iter().map(|o| o.0.clone()).collect();
    let mut by_id: BTreeMap<String, SessionKpi> = opened
        .into_iter()
        .map(|(session_id, counter_id, staff_id, opened_at_ms)| {
            (
                session_id.clone(),
                SessionKpi { session_id, counter_id, staff_id, opened_at_ms, ..Default::default() },
            )
        })
        .collect();
    // In chunks, so the IN lists stay within both backends' limits.
    for chunk in ids.chunks(500) {
        let submits: Vec<(String, i64)> = submissions::table
            .filter(submissions::session_id.eq_any(chunk))
            .select((submissions::session_id, submissions::created_at_ms))
            .load(conn)?;
        for (id, at) in submits {
            let k = by_id.get_mut(&id).expect("selected by these ids");
            k.last_submit_at_ms = Some(k.last_submit_at_ms.map_or(at, |t| t.max(at)));
        }
        let apps: Vec<(String, i32, i32, i32)> = applications::table
            .filter(applications::session_id.eq_any(chunk))
            .select((
                applications::session_id,
                applications::pattern,
                applications::fields_total,
                applications::fields_prefilled,
            ))
            .load(conn)?;
        for (id, pattern, total, prefilled) in apps {
            let k = by_id.get_mut(&id).expect("selected by these ids");
            k.applications += 1;
            k.fields_total += i64::from(total);
            k.fields_prefilled += i64::from(prefilled);
            if let Some(slot) = usize::try_from(pattern - 1).ok().and_then(|i| k.per_pattern.get_mut(i)) {
                *slot += 1;
            }
        }
        let items: Vec<(String, String)> = work_items::table
            .filter(work_items::session_id.eq_any(chunk))
            .select((work_items::session_id, work_items::state))
            .load(conn)?;
        for (id, state) in items {
            let k = by_id.get_mut(&id).expect("selected by these ids");
            k.backyard += 1;
            if state == super::work_items::WorkState::Returned.as_str() {
                k.returned += 1;
            }
        }
    }
    let mut out: Vec<SessionKpi> = by_id.into_values().collect();
    out.sort_by(|a, b| (a.opened_at_ms, &a.session_id).cmp(&(b.opened_at_ms, &b.session_id)));
    Ok(out)
}
