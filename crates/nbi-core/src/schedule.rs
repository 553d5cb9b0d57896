//! When days are judged: each complete local day is due at the configured
//! local time of the next day (00:10 by default). Whatever is due and not yet
//! judged is judged, so a laptop asleep at midnight, or a daemon started
//! after days off, catches up on start and on wake. Re-training every night
//! on the sliding window is how the baseline follows a changing routine.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use crate::intel::verdict::Verdict;
use crate::intel::{judge_and_store, IntelConfig, IntelError};
use crate::store::{Store, StoreError};

/// How often the nightly loop looks at the clock: a wake from sleep is
/// noticed within this.
pub const POLL: StdDuration = StdDuration::from_secs(60);

/// The nightly judge of one host.
#[derive(Debug, Clone)]
pub struct Nightly {
    pub host: String,
    pub tz: Tz,
    pub config: IntelConfig,
    /// Oldest unjudged day caught up, in days before the last complete day.
    pub max_catch_up: u32,
}

/// The UTC instant of local `time` on `day` (after a DST gap when it falls
/// in one).
fn local_instant(day: NaiveDate, time: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let mut probe = day.and_time(time);
    for _ in 0..(4 * 60) {
        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
            return t.with_timezone(&Utc);
        }
        probe += Duration::minutes(1);
    }
    DateTime::from_naive_utc_and_offset(day.and_time(time), Utc)
}

impl Nightly {
    fn at(&self) -> Result<NaiveTime, IntelError> {
        self.config.nightly_time().map_err(IntelError::Invalid)
    }

    /// When day `day` is due to be judged.
    pub fn due(&self, day: NaiveDate) -> Result<DateTime<Utc>, IntelError> {
        let next = day.succ_opt().unwrap_or(day);
        Ok(local_instant(next, self.at()?, self.tz))
    }

    /// The days due at `now` and not yet judged, oldest first: those after
    /// the latest judged day (within `max_catch_up`).
    pub fn pending<S: Store + ?Sized>(
        &self,
        store: &S,
        now: DateTime<Utc>,
    ) -> Result<Vec<NaiveDate>, IntelError> {
        let today = now.with_timezone(&self.tz).date_naive();
        let mut last = today.pred_opt().unwrap_or(today);
        if self.due(last)? > now {
            last = last.pred_opt().unwrap_or(last);
        }
        let first = last - Duration::days(i64::from(self.max_catch_up));
        let judged = store.verdicts(&self.host, first, last)?;
        let start = match judged.iter().map(|v| v.day).max() {
            Some(latest) => latest.succ_opt().unwrap_or(latest),
            // Never judged: the last complete day is enough to start with.
            None => last,
        };
        let mut days = Vec::new();
        let mut d = start.max(first);
        while d <= last {
            days.push(d);
            d = d.succ_opt().unwrap_or(last + Duration::days(1));
        }
        Ok(days)
    }

    /// Judges every pending day and stores the verdicts.
    pub fn catch_up<S: Store + ?Sized>(
        &self,
        store: &mut S,
        now: DateTime<Utc>,
    ) -> Result<Vec<Verdict>, IntelError> {
        let days = self.pending(&*store, now)?;
        let mut out = Vec::new();
        for day in days {
            out.push(judge_and_store(
                store,
                &self.host,
                day,
                self.tz,
                &self.config,
                now,
            )?);
        }
        Ok(out)
    }

    /// Runs until cancelled: catches up now, then whenever a day falls due
    /// (checking the clock every [`POLL`], so sleep and wake are noticed),
    /// calling `on_verdict` with each new verdict. `open` opens the store
    /// for each round (a second connection beside the collector's).
    pub async fn run<S, O, F>(self, open: O, mut on_verdict: F, cancel: CancellationToken)
    where
        S: Store,
        O: Fn() -> Result<S, StoreError> + Send + Sync + Clone + 'static,
        F: FnMut(&Verdict),
    {
        loop {
            let this = self.clone();
            let open = open.clone();
            let round = tokio::task::spawn_blocking(move || -> Result<Vec<Verdict>, IntelError> {
                let mut store = open()?;
                this.catch_up(&mut store, Utc::now())
            })
            .await;
            match round {
                Ok(Ok(verdicts)) => verdicts.iter().for_each(&mut on_verdict),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "nightly check failed; trying again later")
                }
                Err(e) => tracing::warn!(error = %e, "nightly check stopped"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::synth::Generator;

    fn nightly() -> Nightly {
        Nightly {
            host: "demo".into(),
            tz: "Europe/Berlin".parse().unwrap(),
            config: IntelConfig {
                epochs: 5,
                ..IntelConfig::default()
            },
            max_catch_up: 14,
        }
    }

    #[test]
    fn a_day_is_due_at_ten_past_midnight_local() {
        let n = nightly();
        let day = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
        assert_eq!(
            n.due(day).unwrap().to_rfc3339(),
            "2026-07-11T22:10:00+00:00"
        );
        // 02:30 does not exist on 29 Mar 2026 in Berlin: due after the gap.
        let n = Nightly {
            config: IntelConfig {
                nightly_at: "02:30".into(),
                ..IntelConfig::default()
            },
            ..nightly()
        };
        let spring_eve = NaiveDate::from_ymd_opt(2026, 3, 28).unwrap();
        assert_eq!(
            n.due(spring_eve).unwrap().to_rfc3339(),
            "2026-03-29T01:00:00+00:00"
        );
    }

    #[test]
    fn a_store_judged_three_days_back_gets_three_verdicts_on_start() {
        crate::intel::use_one_math_thread();
        let n = nightly();
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        // Now: Wed 15 Jul 2026 08:00 in Berlin; the last complete day is
        // Tue 14 Jul, and the last judged day Sat 11 Jul.
        let now: DateTime<Utc> = "2026-07-15T06:00:00Z".parse().unwrap();
        let mut gen = Generator::new(4);
        let mut day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        while day <= NaiveDate::from_ymd_opt(2026, 7, 14).unwrap() {
            s.write(&gen.day_ticks("demo", day, n.tz, None)).unwrap();
            day = day.succ_opt().unwrap();
        }
        let sat = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
        judge_and_store(&mut s, "demo", sat, n.tz, &n.config, now).unwrap();
        assert_eq!(
            n.pending(&s, now).unwrap(),
            vec![
                NaiveDate::from_ymd_opt(2026, 7, 12).unwrap(),
                NaiveDate::from_ymd_opt(2026, 7, 13).unwrap(),
                NaiveDate::from_ymd_opt(2026, 7, 14).unwrap(),
            ]
        );
        let verdicts = n.catch_up(&mut s, now).unwrap();
        assert_eq!(verdicts.len(), 3);
        assert!(
            n.pending(&s, now).unwrap().is_empty(),
            "nothing left to judge"
        );
        let stored = s.verdicts("demo", sat, sat + Duration::days(3)).unwrap();
        assert_eq!(stored.len(), 4);
        // Before 00:10 the day that just ended is not due yet.
        let early: DateTime<Utc> = "2026-07-15T22:05:00Z".parse().unwrap();
        assert!(n.pending(&s, early).unwrap().is_empty());
        let late: DateTime<Utc> = "2026-07-15T22:15:00Z".parse().unwrap();
        assert_eq!(n.pending(&s, late).unwrap(), vec![sat + Duration::days(4)]);
    }
}
