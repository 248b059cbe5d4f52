//! Life going on in the simulated city: 転居, 転出, 転入 and 死亡 applied to the record through the
//! same path as a received 住民異動届, so each one lands in the change feed.

use renkei_model::{Date, LifeEvent, MojiText, ResidentStatus};

use super::{SimulatorHandle, Todoke};
use crate::population::SplitMix64;

impl SimulatorHandle {
    /// Apply `count` changes picked deterministically from `seed` (the same seed on the same
    /// population gives the same changes), dated from `from` onward, a few per day. Returns the
    /// seq of the newest change.
    ///
    /// Mostly 転居 within the city (a new 番地), then 転出, 死亡, and 転入 of people who had
    /// moved out.
    pub fn churn(&self, count: usize, seed: u64, from: Date) -> u64 {
        let mut rng = SplitMix64(seed ^ 0x6368_7572_6e00_0000);
        let mut store = self.shared.write();
        let year = from.year();
        let mut applied = 0;
        let mut attempts = 0;
        while applied < count && attempts < count * 20 {
            attempts += 1;
            let records = store.records();
            if records.is_empty() {
                break;
            }
            let person = &records[rng.below(records.len() as u64) as usize];
            let idou_date = from
                .naive()
                .checked_add_days(chrono::Days::new((applied / 8) as u64))
                .map_or(from, Date::from);
            let living = person.status == ResidentStatus::Resident;
            let (kind, new_address) = match (living, rng.below(100)) {
                (true, 0..70) => {
                    let Some(mut address) = person.address.clone() else { continue };
                    let (ban, go) = (rng.below(30) + 1, rng.below(20) + 1);
                    address.banchi = MojiText::new(format!("{ban}番{go}号")).expect("plain text");
                    address.katagaki = None;
                    (LifeEvent::MoveWithin, Some(address))
                }
                (true, 70..88) => (LifeEvent::MoveOut, None),
                (true, _) => (LifeEvent::Death, None),
                (false, _) if person.status == ResidentStatus::MovedOut => {
                    let Some(address) = person.address.clone() else { continue };
                    (LifeEvent::MoveIn, Some(address))
                }
                (false, _) => continue,
            };
            let todoke = Todoke {
                kind,
                idou_date,
                todokede: person.atena_number.clone(),
                subjects: vec![person.atena_number.clone()],
                new_address,
                note: None,
            };
            let key = format!("churn-{seed}-{applied}");
            if matches!(store.submit(&key, todoke, year), super::store::TodokeOutcome::Accepted(_)) {
                applied += 1;
            }
        }
        store.last_seq()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::Population;
    use crate::resident_record::ResidentRecordSimulator;

    #[tokio::test]
    async fn churn_fills_the_change_feed_deterministically() {
        let population = Population::generate(300, 7);
        let from = Date::from_ymd(2026, 11, 1).unwrap();
        let mut feeds = Vec::new();
        for _ in 0..2 {
            let sim = ResidentRecordSimulator::new(&population).start("127.0.0.1:0").await.unwrap();
            assert_eq!(sim.churn(120, 5, from), 120);
            let feed: Vec<_> = sim
                .shared
                .read()
                .changes_after(0, 1000)
                .iter()
                .map(|c| (c.seq, c.reason, c.date, c.record.atena_number.clone()))
                .collect();
            feeds.push(feed);
            sim.shutdown().await.unwrap();
        }
        assert_eq!(feeds[0], feeds[1], "the same seed makes the same changes");
        let kinds: std::collections::HashSet<_> = feeds[0].iter().map(|c| c.1).collect();
        for kind in [LifeEvent::MoveWithin, LifeEvent::MoveOut, LifeEvent::Death] {
            assert!(kinds.contains(&kind), "{kind:?} among {kinds:?}");
        }
        assert!(feeds[0].iter().all(|c| c.2 >= from));
    }
}
