//! Upkeep beside a run: retention of minute data, and the data plan's
//! notifications. Every few minutes, on the blocking pool.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use crate::clock::PacedClock;
use crate::destination::names;
use crate::human;
use crate::notify::Notice;
use crate::plan::{self, PlanAlertBook, PlanLevel, PlanUsage, Plans};
use crate::store::connections::Stores;
use crate::store::timeline::local_day_bounds;

/// How often upkeep looks: a plan notification comes within this of the
/// byte that crossed the level.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5 * 60);

/// Called with the plan's usage and the level it reached.
pub type OnPlan = Arc<dyn Fn(&PlanUsage, PlanLevel) + Send + Sync>;

/// What a host wants of upkeep.
#[derive(Clone, Default)]
pub struct Upkeep {
    /// Called when the data plan reaches 80 % or 100 % (once each per
    /// billing period); `None`: no plan notifications.
    pub on_plan: Option<OnPlan>,
}

/// The settings upkeep runs with.
pub(crate) struct UpkeepTask {
    pub host: String,
    pub tz: Tz,
    pub keep_minutes_days: u32,
    pub plans: Plans,
    /// The networks the live source sees, recorded in the networks table
    /// each round; `None`: none.
    pub networks: Option<Arc<crate::network::Watch>>,
    /// Where sent plan notifications are remembered.
    pub alerts_file: Option<PathBuf>,
    /// Where reverse DNS names of destinations are kept; `None`: no lookups.
    pub names_file: Option<PathBuf>,
    pub upkeep: Upkeep,
}

impl UpkeepTask {
    /// Runs until `stop`: once at start, then every [`UPKEEP_EVERY`], by
    /// a [`PacedClock`] (a wall clock set ahead does not delete history).
    pub async fn run(self, stores: Stores, stop: CancellationToken) {
        let this = Arc::new(self);
        let mut clock = PacedClock::new();
        loop {
            let (task, s) = (this.clone(), stores.clone());
            let now = clock.now();
            let _ = tokio::task::spawn_blocking(move || task.once(&s, now)).await;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(UPKEEP_EVERY) => {}
            }
        }
    }

    /// One round at `now`. Retention counts its days back from today or
    /// from the newest day stored, whichever is earlier: a clock set ahead
    /// never makes the days already stored old.
    pub fn once(&self, stores: &Stores, now: DateTime<Utc>) {
        let today = now.with_timezone(&self.tz).date_naive();
        let newest = stores
            .readers
            .with(|s| s.summary())
            .ok()
            .and_then(Result::ok)
            .and_then(|s| s.last_tick)
            .map(|t| t.with_timezone(&self.tz).date_naive());
        let anchor = newest.map_or(today, |n| n.min(today));
        if let Some(before) = retention_cut(anchor, self.keep_minutes_days, self.tz) {
            match stores.writer.lock().prune_minutes(before) {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(ticks = n, before = %before, "minute data older than the retention deleted; hourly sums kept")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "retention: cannot delete old minute data now")
                }
            }
        }
        if let Some(path) = &self.names_file {
            self.look_up_names(stores, today, path);
        }
        if let Some(watch) = &self.networks {
            let seen = watch.take_sightings();
            if let Err(e) = stores.writer.lock().record_sightings(&seen) {
                tracing::warn!(error = %e, "networks: cannot record what the OS said of them now");
            }
        }
        self.check_plans(stores, today);
    }

    /// Each plan's usage, and its notification when a level is reached.
    fn check_plans(&self, stores: &Stores, today: NaiveDate) {
        let (Some(on_plan), Some(path)) = (&self.upkeep.on_plan, &self.alerts_file) else {
            return;
        };
        if self.plans.is_empty() {
            return;
        }
        let usages = match stores
            .readers
            .with(|s| plan::usages(s, &self.plans, &self.host, today, self.tz))
        {
            Ok(Ok(u)) => u,
            Ok(Err(e)) | Err(e) => {
                tracing::warn!(error = %e, "data plan: cannot read usage now");
                return;
            }
        };
        let mut alerts = PlanAlertBook::load(path);
        let due: Vec<(&PlanUsage, PlanLevel)> = usages
            .iter()
            .filter_map(|u| Some((u, alerts.due(u)?)))
            .collect();
        if due.is_empty() {
            return;
        }
        // Remembered first: a failed save must not repeat them every round.
        if let Err(e) = alerts.save(path) {
            tracing::warn!(error = %e, path = %path.display(), "data plan: cannot remember the notification");
        }
        for (usage, level) in due {
            on_plan(usage, level);
        }
    }
}

impl UpkeepTask {
    /// Reverse DNS names of today's destinations, a bounded round of them.
    fn look_up_names(&self, stores: &Stores, today: NaiveDate, path: &std::path::Path) {
        let host = crate::store::HostFilter::One(self.host.clone());
        let today_places = match stores
            .readers
            .with(|s| s.destinations(&host, today, today, self.tz, None))
        {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) | Err(e) => {
                tracing::debug!(error = %e, "reverse DNS: cannot read today's destinations now");
                return;
            }
        };
        if today_places.is_empty() {
            return;
        }
        let mut cache = names::NameCache::load(path);
        let now = chrono::Utc::now().timestamp();
        let looked = names::refresh(
            &mut cache,
            today_places.into_iter().map(|d| d.address),
            now,
            names::lookup,
        );
        if looked > 0 {
            tracing::debug!(looked, kept = cache.len(), "reverse DNS names looked up");
            if let Err(e) = cache.save(path) {
                tracing::warn!(error = %e, path = %path.display(), "reverse DNS: cannot keep the names found");
            }
        }
    }
}

/// The start of the oldest local day whose ticks are kept; `None`: keep all.
pub fn retention_cut(today: NaiveDate, keep_days: u32, tz: Tz) -> Option<DateTime<Utc>> {
    if keep_days == 0 {
        return None;
    }
    let first_kept = today.checked_sub_days(Days::new(u64::from(keep_days) - 1))?;
    Some(local_day_bounds(first_kept, tz).start)
}

/// The notification of a plan level.
pub fn plan_notice(usage: &PlanUsage, level: PlanLevel) -> Notice {
    let used = format!(
        "{} of {} used since {}; the period ends {}.",
        human::bytes(usage.used_bytes),
        human::bytes(usage.limit_bytes),
        usage.period_start.format("%a %-d %b"),
        usage.period_end.format("%a %-d %b"),
    );
    match level {
        PlanLevel::Warning => Notice {
            title: format!(
                "{}: {:.0} % used",
                usage.name,
                (usage.fraction() * 100.0).floor()
            ),
            body: used,
        },
        PlanLevel::Reached => Notice {
            title: format!("{}: limit reached", usage.name),
            body: used,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_keeps_whole_local_days() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let today: NaiveDate = "2026-11-30".parse().unwrap();
        assert_eq!(retention_cut(today, 0, tz), None);
        // One day kept: today, from local midnight (05:00 UTC in November).
        assert_eq!(
            retention_cut(today, 1, tz).unwrap().to_rfc3339(),
            "2026-11-30T05:00:00+00:00"
        );
        // 90 days: from 2 Sep, still daylight time (04:00 UTC).
        assert_eq!(
            retention_cut(today, 90, tz).unwrap().to_rfc3339(),
            "2026-09-02T04:00:00+00:00"
        );
    }

    #[test]
    fn notices_say_how_much_of_what_until_when() {
        let plan = crate::plan::PlanConfig {
            limit: Some(crate::plan::DataSize(50_000_000_000)),
            billing_day: 15,
            ..crate::plan::PlanConfig::default()
        };
        let u = plan
            .usage_of("2026-12-01".parse().unwrap(), 41_300_000_000)
            .unwrap();
        let n = plan_notice(&u, PlanLevel::Warning);
        assert_eq!(n.title, "Data plan: 82 % used");
        assert_eq!(
            n.body,
            "41 GB of 50 GB used since Sun 15 Nov; the period ends Mon 14 Dec."
        );
        assert_eq!(
            plan_notice(&u, PlanLevel::Reached).title,
            "Data plan: limit reached"
        );
        let phone = PlanUsage {
            name: "Phone".into(),
            ..u
        };
        assert_eq!(
            plan_notice(&phone, PlanLevel::Warning).title,
            "Phone: 82 % used"
        );
    }

    #[test]
    fn a_round_prunes_old_minutes_and_notifies_each_plan_level_once() {
        use crate::config::Config;
        use crate::plan::DataSize;
        use crate::runtime::{Runtime, StoreKind};
        use crate::tick::Tick;
        use std::sync::Mutex;

        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            host: "h".into(),
            timezone: "UTC".into(),
            ..Config::default()
        };
        config.store.db = dir.path().join("db.sqlite");
        let rt = Runtime::new(config, StoreKind::Sqlite).unwrap();
        let stores = rt.open_stores().unwrap();
        let now: DateTime<Utc> = "2026-11-30T12:00:00Z".parse().unwrap();
        let write = |at: DateTime<Utc>, bytes: u64| {
            let t = Tick::from_totals("h", at, 60, [("Backup".to_string(), (bytes, 0))]);
            stores.writer.lock().write(&[t]).unwrap();
        };
        write(now - chrono::Duration::days(3), 5_000);
        write(now - chrono::Duration::hours(1), 850);
        let sent: Arc<Mutex<Vec<PlanLevel>>> = Arc::default();
        let seen = sent.clone();
        let task = UpkeepTask {
            host: "h".into(),
            tz: chrono_tz::UTC,
            keep_minutes_days: 2,
            plans: Plans(vec![crate::plan::PlanConfig {
                limit: Some(DataSize(1000)),
                billing_day: 30,
                ..crate::plan::PlanConfig::default()
            }]),
            networks: None,
            alerts_file: Some(dir.path().join("plan-alerts.json")),
            names_file: None,
            upkeep: Upkeep {
                on_plan: Some(Arc::new(move |u, level| {
                    assert_eq!(u.period_start.to_string(), "2026-11-30");
                    seen.lock().unwrap().push(level);
                })),
            },
        };
        task.once(&stores, now);
        let summary = stores.readers.with(|s| s.summary()).unwrap().unwrap();
        assert_eq!(
            summary.minute_data_from.map(|t| t.to_rfc3339()),
            Some("2026-11-29T00:00:00+00:00".into())
        );
        assert_eq!(
            summary.first_tick,
            Some(now - chrono::Duration::days(3)),
            "its hour is kept"
        );
        assert_eq!(*sent.lock().unwrap(), vec![PlanLevel::Warning]);
        task.once(&stores, now);
        write(now - chrono::Duration::minutes(5), 200);
        task.once(&stores, now);
        task.once(&stores, now);
        assert_eq!(
            *sent.lock().unwrap(),
            vec![PlanLevel::Warning, PlanLevel::Reached]
        );
    }

    /// The wall clock set 120 days ahead for a while, then back: retention
    /// deletes no minute of history and no day that has not happened is
    /// judged, neither while it is ahead nor after.
    #[test]
    fn a_clock_120_days_ahead_then_back_loses_nothing_and_judges_no_future_day() {
        use crate::clock::PacedClock;
        use crate::config::Config;
        use crate::runtime::{Runtime, StoreKind};
        use crate::tick::Tick;
        use std::time::Duration as Std;

        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            host: "h".into(),
            timezone: "UTC".into(),
            ..Config::default()
        };
        config.store.db = dir.path().join("db.sqlite");
        let rt = Runtime::new(config, StoreKind::Sqlite).unwrap();
        let stores = rt.open_stores().unwrap();
        // Twenty days of ticks every ten minutes, up to now.
        let now: DateTime<Utc> = "2026-11-30T12:00:00Z".parse().unwrap();
        let first = now - chrono::Duration::days(20);
        let ticks: Vec<Tick> = (0..20 * 144)
            .map(|i| {
                Tick::from_totals(
                    "h",
                    first + chrono::Duration::minutes(10 * i),
                    600,
                    [("Slack".to_string(), (1_000, 10))],
                )
            })
            .collect();
        stores.writer.lock().write(&ticks).unwrap();
        let count = || stores.readers.with(|s| s.summary()).unwrap().unwrap().ticks;
        assert_eq!(count(), 20 * 144);
        let task = UpkeepTask {
            host: "h".into(),
            tz: chrono_tz::UTC,
            keep_minutes_days: 90,
            plans: Plans::default(),
            networks: None,
            alerts_file: None,
            names_file: None,
            upkeep: Upkeep::default(),
        };
        let nightly = rt.nightly(7);
        let judged = || {
            stores
                .readers
                .with(|s| {
                    let to = (now + chrono::Duration::days(400)).date_naive();
                    s.verdicts("h", first.date_naive(), to)
                })
                .unwrap()
                .unwrap()
        };
        let ahead = now + chrono::Duration::days(120);
        // A process started with the clock already ahead: no reference but
        // the newest stored day.
        let mut clock = PacedClock::new();
        let boot = Std::from_secs(10_000);
        let t = clock.at(ahead, boot);
        task.once(&stores, t);
        nightly.catch_up(&mut stores.lend().unwrap(), t);
        assert_eq!(count(), 20 * 144, "no minute lost");
        let days: Vec<NaiveDate> = judged().iter().map(|v| v.day).collect();
        assert!(
            days.iter().all(|d| *d <= now.date_naive()),
            "no day after the newest tick: {days:?}"
        );
        // A process that started with the clock right sees it jump ahead
        // for an hour, ticks stamped ahead arriving meanwhile.
        let mut clock = PacedClock::new();
        let t = clock.at(now, boot);
        assert_eq!(t, now);
        for round in 1..=12 {
            let wall = ahead + chrono::Duration::minutes(5 * round);
            stores
                .writer
                .lock()
                .write(&[Tick::from_totals(
                    "h",
                    wall,
                    300,
                    [("Slack".to_string(), (5, 5))],
                )])
                .unwrap();
            let t = clock.at(wall, boot + Std::from_secs(300 * round as u64));
            assert!(
                t < now + chrono::Duration::hours(2),
                "time as it passed: {t}"
            );
            task.once(&stores, t);
            nightly.catch_up(&mut stores.lend().unwrap(), t);
        }
        assert_eq!(count(), 20 * 144 + 12, "no minute lost while ahead");
        // Back to the truth: the clock of a process that saw the jump.
        let back = now + chrono::Duration::minutes(65);
        let t = clock.at(back, boot + Std::from_secs(3_900));
        assert_eq!(t, back);
        task.once(&stores, t);
        nightly.catch_up(&mut stores.lend().unwrap(), t);
        assert_eq!(count(), 20 * 144 + 12, "no minute lost after");
        let future: Vec<NaiveDate> = judged()
            .iter()
            .map(|v| v.day)
            .filter(|d| *d >= now.date_naive())
            .collect();
        assert!(future.is_empty(), "no verdict for a future day: {future:?}");
        assert!(!judged().is_empty(), "the days before were judged");
    }
}
