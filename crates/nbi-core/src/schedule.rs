//! When days are judged: each complete local day is due at the configured
//! local time of the next day (00:10 by default). Whatever is due and not yet
//! judged is judged, so a laptop asleep at midnight, or a daemon started
//! after days off, catches up on start and on wake. Re-training every night
//! on the sliding window is how the baseline follows a changing routine.
//!
//! A day that cannot be judged for good (a model or data fault) is recorded
//! as such, with its reason, and the schedule moves on to the next; a
//! passing fault (a busy or unreachable store) ends the round, and the day
//! is tried again later, with backoff.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clock::PacedClock;
use crate::intel::record::Keeper;
use crate::intel::verdict::{Status, Verdict};
use crate::intel::{judge_and_store, judge_so_far, store_failure, IntelConfig, IntelError};
use crate::store::connections::Stores;
use crate::store::{UsageQuery, VerdictStore};

/// How often the nightly loop looks at the clock: a wake from sleep is
/// noticed within this.
pub const POLL: StdDuration = StdDuration::from_secs(60);
/// Longest wait after rounds that hit a passing fault.
pub const MAX_BACKOFF: StdDuration = StdDuration::from_secs(3600);

/// What one round of judging did.
#[derive(Debug, Default)]
pub struct Round {
    /// New verdicts, oldest first (days that failed for good included).
    pub verdicts: Vec<Verdict>,
    /// A passing fault that stopped the round before every due day was
    /// judged: those days wait for the next round.
    pub deferred: Option<IntelError>,
}

/// The nightly judge of one host.
#[derive(Debug, Clone)]
pub struct Nightly {
    pub host: String,
    pub tz: Tz,
    pub config: IntelConfig,
    /// Oldest unjudged day caught up, in days before the last complete day.
    pub max_catch_up: u32,
    /// Where the day whose hours so far were last notified is remembered,
    /// so a restart does not notify it again (`None`: in memory only).
    pub same_day_file: Option<PathBuf>,
}

/// The same-day check's memory: the last local hour judged, and the last
/// day notified.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct SameDay {
    #[serde(skip)]
    pub judged: Option<(NaiveDate, u8)>,
    pub notified: Option<NaiveDate>,
}

impl SameDay {
    /// What `file` remembers; nothing when it is absent or unreadable (a
    /// second notice is the worst outcome).
    pub fn load(file: Option<&Path>) -> SameDay {
        file.and_then(|f| std::fs::read(f).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn save(&self, file: Option<&Path>) {
        let Some(file) = file else { return };
        let written = serde_json::to_vec(self)
            .map_err(std::io::Error::other)
            .and_then(|b| crate::files::write_atomic(file, &b));
        if let Err(e) = written {
            tracing::warn!(file = %file.display(), error = %e, "could not remember today's notice");
        }
    }
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
    /// the latest judged day (within `max_catch_up`), up to the day before
    /// the newest tick stored (a clock set ahead judges no day that has not
    /// happened).
    pub fn pending<S: UsageQuery + VerdictStore + ?Sized>(
        &self,
        store: &S,
        now: DateTime<Utc>,
    ) -> Result<Vec<NaiveDate>, IntelError> {
        let today = now.with_timezone(&self.tz).date_naive();
        let mut last = today.pred_opt().unwrap_or(today);
        if self.due(last)? > now {
            last = last.pred_opt().unwrap_or(last);
        }
        // A day is over when a tick after it is stored: never judge a day
        // the store has no later tick for (a clock set ahead, or a day
        // still going on where the watcher's own clock is behind).
        if let Some(newest) = store.summary()?.last_tick {
            let newest_day = newest.with_timezone(&self.tz).date_naive();
            last = last.min(newest_day.pred_opt().unwrap_or(newest_day));
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

    /// Judges every pending day and stores the verdicts. A day that fails
    /// for good is stored as failed, with its reason, and the next is
    /// judged; a passing fault ends the round (see [`Round::deferred`]).
    pub fn catch_up<J: Keeper + ?Sized>(&self, store: &mut J, now: DateTime<Utc>) -> Round {
        let mut round = Round::default();
        let days = match self.pending(store.reader(), now) {
            Ok(d) => d,
            Err(e) => {
                round.deferred = Some(e);
                return round;
            }
        };
        for day in days {
            let judged = judge_and_store(store, &self.host, day, self.tz, &self.config, now);
            let verdict = match judged {
                Ok(v) => v,
                Err(e) if e.is_transient() => {
                    round.deferred = Some(e);
                    break;
                }
                Err(e) => {
                    tracing::error!(%day, error = %e, "this day cannot be judged; moving on");
                    let reason = e.to_string();
                    match store_failure(store, &self.host, day, &self.config, &reason, now) {
                        Ok(v) => v,
                        Err(e) => {
                            round.deferred = Some(e);
                            break;
                        }
                    }
                }
            };
            round.verdicts.push(verdict);
        }
        round
    }

    /// The same-day check at `now`: judges today's hours so far when a
    /// local hour has ended since the last check (and `[intel] same_day`
    /// is on); returns the verdict to notify, at most once a day.
    pub fn check_so_far<S: UsageQuery + VerdictStore + ?Sized>(
        &self,
        store: &S,
        now: DateTime<Utc>,
        memory: &mut SameDay,
    ) -> Option<Verdict> {
        if !self.config.same_day {
            return None;
        }
        let (today, hour) = crate::store::timeline::local_day_hour(now, self.tz);
        if hour == 0 || memory.judged == Some((today, hour)) || memory.notified == Some(today) {
            return None;
        }
        memory.judged = Some((today, hour));
        match judge_so_far(store, &self.host, now, self.tz, &self.config) {
            Ok(Some(j)) if j.verdict.status == Status::Anomalous => {
                memory.notified = Some(today);
                memory.save(self.same_day_file.as_deref());
                Some(j.verdict)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "today's hours so far could not be judged");
                None
            }
        }
    }

    /// Runs until cancelled: catches up now, then whenever a day falls due
    /// (checking the clock every [`POLL`], so sleep and wake are noticed),
    /// calling `on_verdict` with each new verdict. Days are read through
    /// one of `stores`' readers and their verdicts written through its
    /// writer. After a round a passing fault stopped, the next comes later,
    /// doubling up to [`MAX_BACKOFF`].
    pub async fn run_with<F>(self, stores: Stores, mut on_verdict: F, cancel: CancellationToken)
    where
        F: FnMut(&Verdict),
    {
        let mut wait = POLL;
        let mut memory = SameDay::load(self.same_day_file.as_deref());
        // A wall clock set ahead is not followed further than time passes.
        let mut clock = PacedClock::new();
        loop {
            let this = self.clone();
            let stores = stores.clone();
            let mut mem = memory.clone();
            let now = clock.now();
            let round = tokio::task::spawn_blocking(move || -> (Round, SameDay) {
                let round = match stores.lend() {
                    Ok(mut loan) => {
                        let mut round = this.catch_up(&mut loan, now);
                        if round.deferred.is_none() {
                            round
                                .verdicts
                                .extend(this.check_so_far(loan.reader(), now, &mut mem));
                        }
                        round
                    }
                    Err(e) => Round {
                        verdicts: Vec::new(),
                        deferred: Some(e.into()),
                    },
                };
                (round, mem)
            })
            .await;
            let deferred = match round {
                Ok((round, mem)) => {
                    memory = mem;
                    round.verdicts.iter().for_each(&mut on_verdict);
                    round.deferred
                }
                Err(e) => Some(IntelError::Model(format!("the judging task stopped: {e}"))),
            };
            wait = match deferred {
                Some(e) => {
                    let next = (wait * 2).min(MAX_BACKOFF);
                    tracing::warn!(error = %e, retry_in_s = next.as_secs(), "nightly check did not finish; trying again later");
                    next
                }
                None => POLL,
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::StoreError;
    use crate::store::TickWriter;
    use crate::store::VerdictStore;
    use crate::synth::Generator;
    use crate::tick::Tick;

    fn nightly() -> Nightly {
        Nightly {
            host: "demo".into(),
            tz: "Europe/Berlin".parse().unwrap(),
            config: IntelConfig {
                epochs: 5,
                ..IntelConfig::default()
            },
            max_catch_up: 14,
            same_day_file: None,
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
    fn an_unusual_day_so_far_is_notified_once_even_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let n = Nightly {
            config: IntelConfig {
                epochs: 30,
                ..IntelConfig::default()
            },
            same_day_file: Some(dir.path().join("db.sqlite.same-day.json")),
            ..nightly()
        };
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        let mut gen = Generator::new(9);
        let mut day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 7, 14).unwrap();
        while day < today {
            s.write(&gen.day_ticks("demo", day, n.tz, None)).unwrap();
            day = day.succ_opt().unwrap();
        }
        // Tue 14 Jul, 04:10 in Berlin: 30 GB at 03:00.
        let at = |h: u32, m: u32| -> DateTime<Utc> {
            n.tz.with_ymd_and_hms(2026, 7, 14, h, m, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        let mut ticks = gen.day_ticks("demo", today, n.tz, Some(at(4, 10)));
        let i = ticks.iter().position(|t| t.at == at(3, 30)).unwrap();
        let mut apps: Vec<(String, (u64, u64))> = ticks[i]
            .apps
            .iter()
            .map(|a| (a.app.clone(), (a.bytes_in, a.bytes_out)))
            .collect();
        apps.push(("Transmission".into(), (30_000_000_000, 0)));
        ticks[i] = Tick::from_totals("demo", at(3, 30), 60, apps);
        s.write(&ticks).unwrap();

        let off = Nightly {
            config: IntelConfig {
                same_day: false,
                ..n.config.clone()
            },
            ..n.clone()
        };
        assert!(off
            .check_so_far(&s, at(4, 10), &mut SameDay::default())
            .is_none());

        let mut memory = SameDay::load(n.same_day_file.as_deref());
        let v = n
            .check_so_far(&s, at(4, 10), &mut memory)
            .expect("notified");
        assert_eq!((v.status, v.hours_judged), (Status::Anomalous, Some(4)));
        assert!(
            v.summary
                .starts_with("Tue 14 Jul until 04:00: new app Transmission 03:00–04:00"),
            "{}",
            v.summary
        );
        assert!(
            n.check_so_far(&s, at(5, 10), &mut memory).is_none(),
            "once a day"
        );
        // A restart remembers it; the next day starts afresh.
        let mut restarted = SameDay::load(n.same_day_file.as_deref());
        assert_eq!(restarted.notified, Some(today));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let file = n.same_day_file.as_deref().unwrap();
            let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "its owner's alone");
        }
        assert!(n.check_so_far(&s, at(6, 10), &mut restarted).is_none());
        assert_eq!(
            n.pending(&s, at(6, 10)).unwrap(),
            vec![NaiveDate::from_ymd_opt(2026, 7, 13).unwrap()],
            "same-day verdicts are not stored: the nightly check still judges the whole day"
        );
    }

    #[test]
    fn a_store_judged_three_days_back_gets_three_verdicts_on_start() {
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
        // The watcher runs on: today's ticks so far.
        s.write(&gen.day_ticks("demo", day, n.tz, Some(now)))
            .unwrap();
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
        let round = n.catch_up(&mut s, now);
        assert!(round.deferred.is_none(), "{:?}", round.deferred);
        assert_eq!(round.verdicts.len(), 3);
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
        // No tick after 15 Jul stored (the laptop went off, or a clock set
        // ahead): that day is not judged until there is.
        let wed = sat + Duration::days(4);
        s.write(&gen.day_ticks("demo", wed, n.tz, None)).unwrap();
        assert!(n.pending(&s, late).unwrap().is_empty());
        let thu = wed + Duration::days(1);
        s.write(&gen.day_ticks("demo", thu, n.tz, Some(late)))
            .unwrap();
        assert_eq!(n.pending(&s, late).unwrap(), vec![wed]);
    }

    /// The SQLite store, with the reads that judge one day failing: for
    /// good (damaged data) or for a while (an unreachable server).
    struct Faulty {
        inner: SqliteStore,
        day: NaiveDate,
        transient: bool,
        healed: bool,
    }

    impl crate::store::TickWriter for Faulty {
        fn write(&mut self, t: &[crate::Tick]) -> Result<crate::store::WriteReport, StoreError> {
            self.inner.write(t)
        }
        fn prune_minutes(&mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
            self.inner.prune_minutes(before)
        }
    }

    impl crate::store::UsageQuery for Faulty {
        fn day_totals(
            &self,
            h: &crate::store::HostFilter,
            d: NaiveDate,
            tz: Tz,
        ) -> Result<Vec<crate::store::AppTotal>, StoreError> {
            self.inner.day_totals(h, d, tz)
        }
        fn hourly(
            &self,
            h: &crate::store::HostFilter,
            f: NaiveDate,
            t: NaiveDate,
            tz: Tz,
        ) -> Result<Vec<crate::store::HourlyUsage>, StoreError> {
            self.inner.hourly(h, f, t, tz)
        }
        fn coverage(
            &self,
            h: &crate::store::HostFilter,
            f: NaiveDate,
            t: NaiveDate,
            tz: Tz,
        ) -> Result<Vec<crate::store::HourCoverage>, StoreError> {
            if t == self.day && !self.healed {
                return Err(if self.transient {
                    StoreError::Unreachable {
                        url: "http://127.0.0.1:8086".into(),
                        reason: "connection refused".into(),
                    }
                } else {
                    StoreError::Corrupt {
                        path: "nbi.sqlite".into(),
                        what: "the coverage of that day".into(),
                    }
                });
            }
            self.inner.coverage(h, f, t, tz)
        }
        fn day_curve(
            &self,
            h: &crate::store::HostFilter,
            d: NaiveDate,
            tz: Tz,
            step: u32,
        ) -> Result<crate::store::DayCurve, StoreError> {
            self.inner.day_curve(h, d, tz, step)
        }
        fn for_each_tick(
            &self,
            h: &crate::store::HostFilter,
            start: DateTime<Utc>,
            end: DateTime<Utc>,
            f: &mut dyn FnMut(crate::Tick) -> Result<(), StoreError>,
        ) -> Result<(), StoreError> {
            self.inner.for_each_tick(h, start, end, f)
        }
        fn summary(&self) -> Result<crate::store::StoreSummary, StoreError> {
            self.inner.summary()
        }
        fn destinations(
            &self,
            host: &crate::store::HostFilter,
            from: NaiveDate,
            to: NaiveDate,
            tz: chrono_tz::Tz,
            app: Option<&str>,
        ) -> Result<Vec<crate::store::DestinationTotal>, StoreError> {
            self.inner.destinations(host, from, to, tz, app)
        }
        fn hourly_destinations(
            &self,
            host: &crate::store::HostFilter,
            from: NaiveDate,
            to: NaiveDate,
            tz: chrono_tz::Tz,
        ) -> Result<Vec<crate::store::HourlyDestination>, StoreError> {
            self.inner.hourly_destinations(host, from, to, tz)
        }

        fn hourly_networks(
            &self,
            host: &crate::store::HostFilter,
            from: NaiveDate,
            to: NaiveDate,
            tz: chrono_tz::Tz,
        ) -> Result<Vec<crate::store::HourlyNetwork>, StoreError> {
            self.inner.hourly_networks(host, from, to, tz)
        }

        fn networks(&self) -> Result<Vec<crate::store::NetworkRecord>, StoreError> {
            self.inner.networks()
        }
    }

    impl crate::store::NetworkBook for Faulty {
        fn record_sightings(
            &mut self,
            seen: &[crate::network::Sighting],
        ) -> Result<(), StoreError> {
            self.inner.record_sightings(seen)
        }

        fn name_network(
            &mut self,
            id: &crate::tick::NetworkId,
            name: Option<&str>,
        ) -> Result<(), StoreError> {
            self.inner.name_network(id, name)
        }

        fn set_network_metered(
            &mut self,
            id: &crate::tick::NetworkId,
            metered: Option<bool>,
        ) -> Result<(), StoreError> {
            self.inner.set_network_metered(id, metered)
        }
    }

    impl VerdictStore for Faulty {
        fn put_verdict(&mut self, r: &crate::store::VerdictRecord) -> Result<(), StoreError> {
            self.inner.put_verdict(r)
        }
        fn verdicts(
            &self,
            host: &str,
            f: NaiveDate,
            t: NaiveDate,
        ) -> Result<Vec<crate::store::VerdictRecord>, StoreError> {
            self.inner.verdicts(host, f, t)
        }
        fn mark_normal(&mut self, host: &str, day: NaiveDate) -> Result<bool, StoreError> {
            self.inner.mark_normal(host, day)
        }
    }

    /// Four weeks of history; judged up to Sat 11 Jul; now Wed 15 Jul, so
    /// 12, 13 and 14 Jul are due. Judging 13 Jul fails.
    fn faulty(dir: &std::path::Path, transient: bool) -> (Faulty, DateTime<Utc>) {
        let n = nightly();
        let mut s = SqliteStore::open(&dir.join("db.sqlite")).unwrap();
        let mut gen = Generator::new(4);
        let mut day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        while day <= NaiveDate::from_ymd_opt(2026, 7, 14).unwrap() {
            s.write(&gen.day_ticks("demo", day, n.tz, None)).unwrap();
            day = day.succ_opt().unwrap();
        }
        let now: DateTime<Utc> = "2026-07-15T06:00:00Z".parse().unwrap();
        // The watcher runs on: today's ticks so far.
        s.write(&gen.day_ticks("demo", now.date_naive(), n.tz, Some(now)))
            .unwrap();
        let sat = NaiveDate::from_ymd_opt(2026, 7, 11).unwrap();
        judge_and_store(&mut s, "demo", sat, n.tz, &n.config, now).unwrap();
        let store = Faulty {
            inner: s,
            day: NaiveDate::from_ymd_opt(2026, 7, 13).unwrap(),
            transient,
            healed: false,
        };
        (store, now)
    }

    #[test]
    fn a_day_that_cannot_be_judged_is_recorded_and_the_next_is_judged() {
        let n = nightly();
        let dir = tempfile::tempdir().unwrap();
        let (mut s, now) = faulty(dir.path(), false);
        let round = n.catch_up(&mut s, now);
        assert!(round.deferred.is_none(), "{:?}", round.deferred);
        let got: Vec<(u32, crate::intel::verdict::Status)> = round
            .verdicts
            .iter()
            .map(|v| (chrono::Datelike::day(&v.day), v.status))
            .collect();
        use crate::intel::verdict::Status;
        assert_eq!(got[1], (13, Status::Failed));
        assert_eq!(got.len(), 3);
        assert!(
            got[2].1 != Status::Failed,
            "the day after is judged: {got:?}"
        );
        let failed = &round.verdicts[1];
        assert!(
            failed
                .summary
                .starts_with("Mon 13 Jul: could not be judged: ")
                && failed.summary.contains("damaged"),
            "{}",
            failed.summary
        );
        let stored = s.verdict("demo", s.day).unwrap().unwrap();
        assert_eq!(stored.status, Status::Failed);
        assert!(
            n.pending(&s, now).unwrap().is_empty(),
            "the schedule moved on"
        );
    }

    #[test]
    fn a_passing_fault_defers_the_day_until_it_can_be_judged() {
        let n = nightly();
        let dir = tempfile::tempdir().unwrap();
        let (mut s, now) = faulty(dir.path(), true);
        let round = n.catch_up(&mut s, now);
        assert_eq!(round.verdicts.len(), 1, "12 Jul judged, then the fault");
        let deferred = round.deferred.expect("a passing fault");
        assert!(deferred.is_transient(), "{deferred}");
        let bad = s.day;
        assert_eq!(
            n.pending(&s, now).unwrap(),
            vec![bad, bad.succ_opt().unwrap()],
            "nothing recorded for the deferred days"
        );
        s.healed = true;
        let round = n.catch_up(&mut s, now);
        assert!(round.deferred.is_none());
        assert_eq!(round.verdicts.len(), 2);
        assert!(round
            .verdicts
            .iter()
            .all(|v| v.status != crate::intel::verdict::Status::Failed));
    }
}
