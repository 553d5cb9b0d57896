//! Intelligence: learns the owner's daily rhythm from the store's hourly
//! sums and judges each local day against it.
//!
//! `matrix` turns stored hours into day matrices, `baseline` picks the days
//! a day is judged against, `autoencoder` is the Candle model, `detector`
//! trains and applies it, `verdict` says what was found and why, `eval`
//! measures it all on synthetic days.

pub mod autoencoder;
pub mod baseline;
pub mod denormals;
pub mod detector;
pub mod eval;
pub mod matrix;
pub mod typical;
pub mod uploads;
pub mod verdict;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::human::DataSize;
use crate::store::{HostFilter, Store, VerdictRecord};
use baseline::{day_kind, BaselineRules};
use detector::{Detector, Judgement, ModelKind, ModelMeta, ModelSpec, TrainSettings};
use verdict::{Status, Verdict};

pub use autoencoder::use_one_math_thread;

/// What can go wrong while judging a day.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("model: {0}")]
    Model(String),
    #[error("invalid: {0}")]
    Invalid(String),
}

impl IntelError {
    /// Whether judging the same day again later may succeed (a busy or
    /// unreachable store); a model or data problem stays.
    pub fn is_transient(&self) -> bool {
        match self {
            IntelError::Store(e) => e.is_transient(),
            IntelError::Model(_) | IntelError::Invalid(_) => false,
        }
    }
}

/// The default byte floor: 200 MB (every anomaly kind of `nbi eval` moves
/// 1 GB or more; a quiet day's browsing, tens of MB).
pub const DEFAULT_MIN_CHANGE_BYTES: u64 = 200_000_000;

/// Settings of the detector (the `[intel]` section of the configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntelConfig {
    /// `default` or `original`.
    pub model: ModelKind,
    /// Baseline days wanted (N).
    pub baseline_days: usize,
    /// Fewer usable baseline days than this: still learning.
    pub min_baseline_days: usize,
    /// Apps with their own column (K).
    pub top_apps: usize,
    /// A day with more unwatched hours than this is neither judged nor used
    /// as baseline.
    pub max_uncollected_hours: u32,
    /// Threshold = worst baseline error (fenced, see
    /// [`detector::fenced_worst`]) × this.
    pub threshold_factor: f64,
    /// A day the model flags but that differs from the typical day by
    /// fewer bytes than this in all (the sum over apps and hours) is
    /// normal: on a quiet machine tens of MB more are a large relative
    /// change and nothing a person needs to hear about.
    pub min_change_bytes: DataSize,
    /// Days with a workday baseline; the others share a day-off baseline.
    pub work_week: Vec<Weekday>,
    pub epochs: usize,
    /// Seed of weight initialisation and shuffling.
    pub seed: u64,
    /// Local time of the nightly check, HH:MM.
    pub nightly_at: String,
}

impl Default for IntelConfig {
    fn default() -> Self {
        let rules = BaselineRules::default();
        IntelConfig {
            model: ModelKind::Default,
            baseline_days: rules.days,
            min_baseline_days: rules.min_days,
            top_apps: 5,
            max_uncollected_hours: rules.max_uncollected_hours,
            threshold_factor: 1.5,
            min_change_bytes: DataSize(DEFAULT_MIN_CHANGE_BYTES),
            work_week: rules.work_week,
            epochs: 100,
            seed: 0,
            nightly_at: "00:10".into(),
        }
    }
}

impl IntelConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.min_baseline_days == 0 || self.baseline_days < self.min_baseline_days {
            return Err(format!(
                "key `intel.baseline_days`: expected at least min_baseline_days ({}) and more than 0, found {}",
                self.min_baseline_days, self.baseline_days
            ));
        }
        if self.top_apps == 0 || self.top_apps > 50 {
            return Err(format!(
                "key `intel.top_apps`: expected 1 to 50, found {}",
                self.top_apps
            ));
        }
        if self.max_uncollected_hours > 24 {
            return Err(format!(
                "key `intel.max_uncollected_hours`: expected 0 to 24, found {}",
                self.max_uncollected_hours
            ));
        }
        if !(self.threshold_factor.is_finite() && self.threshold_factor > 0.0) {
            return Err(format!(
                "key `intel.threshold_factor`: expected a positive number, found {}",
                self.threshold_factor
            ));
        }
        if self.epochs == 0 {
            return Err("key `intel.epochs`: expected at least 1".into());
        }
        self.nightly_time()?;
        Ok(())
    }

    /// The nightly check's local time.
    pub fn nightly_time(&self) -> Result<chrono::NaiveTime, String> {
        chrono::NaiveTime::parse_from_str(&self.nightly_at, "%H:%M").map_err(|_| {
            format!(
                "key `intel.nightly_at`: expected a local time HH:MM such as \"00:10\", found {:?}",
                self.nightly_at
            )
        })
    }

    pub fn rules(&self) -> BaselineRules {
        BaselineRules {
            days: self.baseline_days,
            min_days: self.min_baseline_days,
            max_uncollected_hours: self.max_uncollected_hours,
            work_week: self.work_week.clone(),
        }
    }

    pub fn settings(&self) -> TrainSettings {
        TrainSettings {
            spec: ModelSpec::of(self.model, self.top_apps),
            threshold_factor: self.threshold_factor,
            epochs: self.epochs,
            seed: self.seed,
        }
    }
}

/// A verdict and the model that reached it (none for days not judged).
pub struct Judged {
    pub verdict: Verdict,
    pub detector: Option<Detector>,
}

impl Judged {
    /// The verdict as the store keeps it, with the model (safetensors) and
    /// its scale, threshold and columns (JSON).
    pub fn record(
        &self,
        host: &str,
        judged_at: DateTime<Utc>,
    ) -> Result<VerdictRecord, IntelError> {
        let json = |v: &dyn erased::Json| v.json();
        let (model, model_meta) = match &self.detector {
            Some(d) => (Some(d.to_safetensors()?), Some(json(&d.meta)?)),
            None => (None, None),
        };
        Ok(VerdictRecord {
            host: host.to_string(),
            day: self.verdict.day,
            status: self.verdict.status,
            judged_at,
            verdict_json: json(&self.verdict)?,
            model,
            model_meta,
            marked_normal: false,
        })
    }
}

mod erased {
    use super::IntelError;

    /// JSON of anything serializable, with our error.
    pub trait Json {
        fn json(&self) -> Result<String, IntelError>;
    }

    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> Result<String, IntelError> {
            serde_json::to_string(self).map_err(|e| IntelError::Invalid(e.to_string()))
        }
    }
}

/// The last local day that has ended at `now`.
pub fn last_complete_day(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let today = now.with_timezone(&tz).date_naive();
    today.pred_opt().unwrap_or(today)
}

/// Judges local day `day` of `host` against its baseline.
pub fn judge<S: Store + ?Sized>(
    store: &S,
    host: &str,
    day: NaiveDate,
    tz: Tz,
    config: &IntelConfig,
) -> Result<Judged, IntelError> {
    config.validate().map_err(IntelError::Invalid)?;
    let rules = config.rules();
    let kind = day_kind(day, &rules.work_week);
    let (history, anomalous) = history_for(store, host, day, tz, &rules)?;
    let target = history
        .iter()
        .find(|d| d.day == day)
        .ok_or_else(|| IntelError::Invalid(format!("no day {day} in the loaded range")))?;
    let mut verdict = Verdict {
        day,
        status: Status::InsufficientData,
        error: None,
        threshold: None,
        baseline_days: 0,
        baseline: Vec::new(),
        day_kind: kind,
        apps: Vec::new(),
        explanation: Vec::new(),
        uncollected_hours: target.uncollected_hours(),
        model: config.model,
        summary: String::new(),
    };
    let finish = |mut v: Verdict| {
        v.summary = verdict::summary(&v, config.min_baseline_days, config.max_uncollected_hours);
        v
    };
    if target.uncollected_hours() > config.max_uncollected_hours {
        tracing::info!(%day, hours = target.uncollected_hours(), "not judged: too little data");
        return Ok(Judged {
            verdict: finish(verdict),
            detector: None,
        });
    }
    let base = baseline::select(&history, day, &rules, &anomalous);
    verdict.baseline_days = base.days.len();
    verdict.baseline = base.dates();
    if !base.enough(&rules) {
        verdict.status = Status::Learning;
        tracing::info!(%day, days = base.days.len(), "learning");
        return Ok(Judged {
            verdict: finish(verdict),
            detector: None,
        });
    }
    let detector = Detector::train(&base.days, &config.settings())?;
    let j = detector.judge(target)?;
    verdict.error = Some(j.error);
    verdict.threshold = Some(j.threshold);
    verdict.apps = detector.meta.columns.names.clone();
    let change = j.bytes_from_typical(&detector.meta);
    let below_floor = j.anomalous() && change < config.min_change_bytes.0 as f64;
    // Uploads are judged apart: in the matrix they add to the downloads of
    // the same hour, where a busy hour hides them.
    let uploads = uploads::unusual_uploads(target, &base.days, config.min_change_bytes.0 as f64);
    if j.anomalous() && !below_floor {
        verdict.status = Status::Anomalous;
        verdict.explanation = verdict::explain(&j, &detector.meta);
        name_the_app_behind_groups(&mut verdict.explanation, &detector.meta.columns, target);
    } else {
        verdict.status = Status::Normal;
    }
    if !uploads.is_empty() {
        verdict.status = Status::Anomalous;
        merge_uploads(&mut verdict.explanation, uploads);
    }
    let mut verdict = finish(verdict);
    if below_floor && verdict.status == Status::Normal {
        tracing::info!(%day, change_bytes = change, floor = config.min_change_bytes.0, "the model saw a change, too small to matter");
        verdict.summary = format!(
            "{}; only {} from the typical day (an alarm needs {})",
            verdict.summary,
            crate::human::bytes(change as u64),
            crate::human::bytes(config.min_change_bytes.0)
        );
    }
    tracing::info!(%day, status = %verdict.status, error = j.error, threshold = j.threshold, "judged");
    Ok(Judged {
        verdict,
        detector: Some(detector),
    })
}

/// The days up to `day` that its baseline is chosen from (gaps filled), and
/// those of them judged anomalous and not marked normal (left out).
pub(crate) fn history_for<S: Store + ?Sized>(
    store: &S,
    host: &str,
    day: NaiveDate,
    tz: Tz,
    rules: &BaselineRules,
) -> Result<(Vec<matrix::DayUsage>, BTreeSet<NaiveDate>), IntelError> {
    let kind = day_kind(day, &rules.work_week);
    let from = day - Duration::days(rules.lookback(kind));
    let history = matrix::load_days(store, &HostFilter::One(host.to_string()), from, day, tz)?;
    let earlier = day.pred_opt().unwrap_or(day);
    let anomalous: BTreeSet<NaiveDate> = store
        .verdicts(host, from, earlier)?
        .into_iter()
        .filter(|v| v.day < day && v.status == Status::Anomalous && !v.marked_normal)
        .map(|v| v.day)
        .collect();
    Ok((history, anomalous))
}

/// Adds upload runs to the model's runs. Where the model already explains
/// the same app over the same hours, the upload replaces that run when it
/// is at least half its bytes (the upload is the news), and is left out
/// when it is less (a new app that downloaded 120 GB and sent 12 GB is
/// explained by the 120 GB).
fn merge_uploads(runs: &mut Vec<verdict::Explanation>, uploads: Vec<verdict::Explanation>) {
    for up in uploads {
        let overlapping = runs
            .iter()
            .position(|e| e.app == up.app && up.from_hour < e.to_hour && e.from_hour < up.to_hour);
        match overlapping {
            None => runs.push(up),
            Some(i) if up.bytes.saturating_mul(2) >= runs[i].bytes => runs[i] = up,
            Some(_) => {}
        }
    }
}

/// A run in a shared column ("Other apps", "Web browsers") is named after
/// the app that moved most of its bytes, when one did: a person wants to
/// read "Transmission", not "Other apps".
fn name_the_app_behind_groups(
    runs: &mut [verdict::Explanation],
    columns: &matrix::Columns,
    day: &matrix::DayUsage,
) {
    for run in runs.iter_mut() {
        let Some(col) = columns.names.iter().position(|n| *n == run.app) else {
            continue;
        };
        let hours = usize::from(run.from_hour)..usize::from(run.to_hour).min(24);
        let members: Vec<(&String, f64)> = day
            .apps
            .iter()
            .filter(|(app, _)| **app != run.app && columns.column_of(app) == Some(col))
            .map(|(app, cells)| (app, cells[hours.clone()].iter().sum::<f64>()))
            .collect();
        let total: f64 = members.iter().map(|(_, b)| b).sum();
        if let Some((app, bytes)) = members.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
            if total > 0.0 && *bytes >= 0.5 * total {
                run.app = (*app).clone();
            }
        }
    }
}

/// Judges a day and stores the verdict with its model.
pub fn judge_and_store<S: Store + ?Sized>(
    store: &mut S,
    host: &str,
    day: NaiveDate,
    tz: Tz,
    config: &IntelConfig,
    now: DateTime<Utc>,
) -> Result<Verdict, IntelError> {
    let judged = judge(&*store, host, day, tz, config)?;
    store.put_verdict(&judged.record(host, now)?)?;
    Ok(judged.verdict)
}

/// Records that `day` could not be judged, and why: a verdict of status
/// [`Status::Failed`] whose summary holds the reason, so the schedule moves
/// on and the owner sees it. Returns it.
pub fn store_failure<S: Store + ?Sized>(
    store: &mut S,
    host: &str,
    day: NaiveDate,
    config: &IntelConfig,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Verdict, IntelError> {
    let kind = day_kind(day, &config.rules().work_week);
    let verdict = Verdict::failed(day, kind, config.model, reason);
    let judged = Judged {
        verdict,
        detector: None,
    };
    store.put_verdict(&judged.record(host, now)?)?;
    Ok(judged.verdict)
}

/// Judges a stored verdict's day again with the model saved with it.
pub fn recheck<S: Store + ?Sized>(
    store: &S,
    record: &VerdictRecord,
    tz: Tz,
) -> Result<Option<Judgement>, IntelError> {
    let (Some(bytes), Some(meta)) = (&record.model, &record.model_meta) else {
        return Ok(None);
    };
    let meta: ModelMeta =
        serde_json::from_str(meta).map_err(|e| IntelError::Invalid(format!("saved model: {e}")))?;
    let detector = Detector::restore(meta, bytes)?;
    let days = matrix::load_days(
        store,
        &HostFilter::One(record.host.clone()),
        record.day,
        record.day,
        tz,
    )?;
    let day = days
        .first()
        .ok_or_else(|| IntelError::Invalid(format!("no day {}", record.day)))?;
    Ok(Some(detector.judge(day)?))
}

/// Parses a stored verdict.
pub fn parse_verdict(record: &VerdictRecord) -> Result<Verdict, IntelError> {
    serde_json::from_str(&record.verdict_json)
        .map_err(|e| IntelError::Invalid(format!("stored verdict of {}: {e}", record.day)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::TickWriter;
    use crate::store::VerdictStore;
    use crate::synth::{Generator, Scenario};
    use crate::tick::Tick;

    const HOST: &str = "h";

    fn utc() -> Tz {
        "UTC".parse().unwrap()
    }

    fn date(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    /// One hour-long tick per watched hour of a synthetic day.
    fn write_day(s: &mut SqliteStore, day: NaiveDate, scenario: Scenario, skip: &[u32]) {
        let apps = Generator::new(day.to_string().len() as u64 * 1000 + day.ordinal() as u64)
            .scenario_day(day, scenario);
        let start = crate::store::local_day_bounds(day, utc()).start;
        let ticks: Vec<Tick> = (0..24u32)
            .filter(|h| !skip.contains(h))
            .map(|h| {
                Tick::from_totals(
                    HOST,
                    start + Duration::hours(i64::from(h)),
                    3600,
                    apps.iter()
                        .map(|(a, v)| (a.clone(), (v[h as usize] as u64, 0))),
                )
            })
            .collect();
        s.write(&ticks).unwrap();
    }

    use chrono::Datelike;

    fn config() -> IntelConfig {
        IntelConfig {
            epochs: 60,
            ..IntelConfig::default()
        }
    }

    /// A synthetic normal day with (app, hour, bytes) added.
    fn write_day_with(
        s: &mut SqliteStore,
        day: NaiveDate,
        extra: &[(&str, std::ops::Range<usize>, f64)],
    ) {
        let mut apps = Generator::new(day.to_string().len() as u64 * 1000 + day.ordinal() as u64)
            .scenario_day(day, Scenario::Normal);
        for (app, hours, bytes) in extra {
            let i = match apps.iter().position(|(a, _)| a == app) {
                Some(i) => i,
                None => {
                    apps.push((app.to_string(), [0.0; 24]));
                    apps.len() - 1
                }
            };
            for h in hours.clone() {
                apps[i].1[h] += bytes;
            }
        }
        let start = crate::store::local_day_bounds(day, utc()).start;
        let ticks: Vec<Tick> = (0..24usize)
            .map(|h| {
                Tick::from_totals(
                    HOST,
                    start + Duration::hours(h as i64),
                    3600,
                    apps.iter().map(|(a, v)| (a.clone(), (v[h] as u64, 0))),
                )
            })
            .collect();
        s.write(&ticks).unwrap();
    }

    #[test]
    fn a_day_marked_normal_does_not_blind_the_detector() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        // Four weeks from Mon 1 Jun; Thu 25 Jun an all-day workshop (2 GB
        // of video an hour, 09:00-17:00); Mon 29 Jun a 2 GB upload at 03:00.
        for i in 0..28 {
            let day = date(6, 1) + Duration::days(i);
            if day == date(6, 25) {
                write_day_with(&mut s, day, &[("zoom.us", 9..17, 2e9)]);
            } else {
                write_day_with(&mut s, day, &[]);
            }
        }
        write_day_with(&mut s, date(6, 29), &[("Dropbox", 3..4, 2e9)]);
        let cfg = config();
        let now = Utc::now();
        let workshop = judge_and_store(&mut s, HOST, date(6, 25), utc(), &cfg, now).unwrap();
        assert_eq!(workshop.status, Status::Anomalous);
        let before = judge(&s, HOST, date(6, 29), utc(), &cfg).unwrap();
        assert_eq!(
            before.verdict.status,
            Status::Anomalous,
            "{:?}",
            before.verdict
        );

        assert!(s.mark_normal(HOST, date(6, 25)).unwrap());
        let after = judge(&s, HOST, date(6, 29), utc(), &cfg).unwrap();
        assert!(
            after.verdict.baseline.contains(&date(6, 25)),
            "learnt from again"
        );
        assert_eq!(
            after.verdict.status,
            Status::Anomalous,
            "{:?}",
            after.verdict
        );
        let (t0, t1) = (
            before.verdict.threshold.unwrap(),
            after.verdict.threshold.unwrap(),
        );
        // The marked day's own error is far beyond the others'; the
        // threshold moves only to the fence.
        let errors = &after.detector.as_ref().unwrap().meta.baseline_errors;
        let worst = errors.iter().copied().fold(0.0, f64::max);
        assert!(
            worst * cfg.threshold_factor > 3.0 * t1,
            "worst {worst}, threshold {t1}"
        );
        assert!(t1 < 3.0 * t0, "threshold {t0} -> {t1}");
    }

    /// A synthetic normal day with Google Chrome's evening of video
    /// (19:00-23:00, 1.5 GB down and ~30 MB up an hour) and `sent` more
    /// bytes up at 20:00.
    fn write_evening(s: &mut SqliteStore, day: NaiveDate, sent: u64) {
        let apps = Generator::new(day.ordinal() as u64).scenario_day(day, Scenario::Normal);
        let start = crate::store::local_day_bounds(day, utc()).start;
        let ticks: Vec<Tick> = (0..24usize)
            .map(|h| {
                let mut all: Vec<(String, (u64, u64))> = apps
                    .iter()
                    .filter(|(a, _)| a != "Google Chrome")
                    .map(|(a, v)| (a.clone(), (v[h] as u64, 0)))
                    .collect();
                if (19..23).contains(&h) {
                    let up = 30_000_000 + (day.ordinal() as u64 % 7) * 1_000_000;
                    all.push((
                        "Google Chrome".into(),
                        (1_500_000_000, up + if h == 20 { sent } else { 0 }),
                    ));
                }
                Tick::from_totals(HOST, start + Duration::hours(h as i64), 3600, all)
            })
            .collect();
        s.write(&ticks).unwrap();
    }

    #[test]
    fn an_upload_replaces_the_models_run_only_where_it_is_the_news() {
        let run = |app: &str, from: u8, to: u8, bytes: u64, up: bool| verdict::Explanation {
            app: app.into(),
            from_hour: from,
            to_hour: to,
            bytes,
            typical_bytes: 0,
            direction: up.then_some(verdict::Direction::Upload),
        };
        let mut runs = vec![
            run("Transmission", 1, 5, 132_000_000_000, false),
            run("Google Chrome", 20, 21, 3_500_000_000, false),
        ];
        merge_uploads(
            &mut runs,
            vec![
                run("Transmission", 1, 5, 12_000_000_000, true),
                run("Google Chrome", 20, 21, 2_000_000_000, true),
                run("Dropbox", 3, 4, 900_000_000, true),
            ],
        );
        assert_eq!(
            runs,
            vec![
                run("Transmission", 1, 5, 132_000_000_000, false),
                run("Google Chrome", 20, 21, 2_000_000_000, true),
                run("Dropbox", 3, 4, 900_000_000, true),
            ]
        );
    }

    #[test]
    fn an_upload_in_a_busy_hour_is_flagged_and_called_an_upload() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        for i in 0..28 {
            write_evening(&mut s, date(6, 1) + Duration::days(i), 0);
        }
        write_evening(&mut s, date(6, 29), 2_000_000_000);
        write_evening(&mut s, date(6, 30), 0);
        let cfg = config();
        let leak = judge(&s, HOST, date(6, 29), utc(), &cfg).unwrap().verdict;
        assert_eq!(leak.status, Status::Anomalous, "{leak:?}");
        let first = &leak.explanation[0];
        assert_eq!(
            (
                first.app.as_str(),
                first.from_hour,
                first.to_hour,
                first.direction
            ),
            ("Google Chrome", 20, 21, Some(verdict::Direction::Upload)),
            "{leak:?}"
        );
        assert!(
            leak.summary
                .contains("Google Chrome 20:00–21:00, uploaded 2.0 GB"),
            "{}",
            leak.summary
        );
        let json = serde_json::to_value(&leak).unwrap();
        assert_eq!(json["explanation"][0]["direction"], "upload");
        let usual = judge(&s, HOST, date(6, 30), utc(), &cfg).unwrap().verdict;
        assert_eq!(usual.status, Status::Normal, "{usual:?}");
        assert!(serde_json::to_value(&usual).unwrap()["explanation"]
            .as_array()
            .unwrap()
            .is_empty());
    }

    /// A near-idle machine: a little mail every hour, a little browsing in
    /// office hours; `extra` adds (app, hour, bytes) to the day.
    fn write_quiet_day(s: &mut SqliteStore, day: NaiveDate, extra: &[(&str, u32, u64)]) {
        let start = crate::store::local_day_bounds(day, utc()).start;
        let wobble = |h: u32| 1.0 + f64::from((day.ordinal() * 7 + h) % 5) / 10.0;
        let ticks: Vec<Tick> = (0..24u32)
            .map(|h| {
                let mut apps = vec![("Mail".to_string(), ((300_000.0 * wobble(h)) as u64, 0))];
                if (9..17).contains(&h) {
                    apps.push(("Safari".to_string(), ((2e6 * wobble(h)) as u64, 0)));
                }
                for (app, hour, bytes) in extra {
                    if *hour == h {
                        apps.push((app.to_string(), (*bytes, 0)));
                    }
                }
                Tick::from_totals(HOST, start + Duration::hours(i64::from(h)), 3600, apps)
            })
            .collect();
        s.write(&ticks).unwrap();
    }

    #[test]
    fn a_change_of_tens_of_megabytes_on_a_quiet_machine_is_no_alarm() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        let first = date(6, 1);
        for i in 0..21 {
            write_quiet_day(&mut s, first + Duration::days(i), &[]);
        }
        // Mon 22 Jun: 60 MB of browsing at 21:00. Tue 23 Jun: 2 GB at 03:00.
        write_quiet_day(&mut s, date(6, 22), &[("Safari", 21, 60_000_000)]);
        write_quiet_day(&mut s, date(6, 23), &[("Safari", 3, 2_000_000_000)]);
        let cfg = config();

        let small = judge(&s, HOST, date(6, 22), utc(), &cfg).unwrap().verdict;
        assert_eq!(small.status, Status::Normal, "{small:?}");
        assert!(
            small.error > small.threshold,
            "the model itself flags it: {small:?}"
        );
        assert!(
            small
                .summary
                .contains("from the typical day (an alarm needs 200 MB)"),
            "{}",
            small.summary
        );
        // Without the floor the same day is an alarm.
        let no_floor = IntelConfig {
            min_change_bytes: DataSize(0),
            ..config()
        };
        let flagged = judge(&s, HOST, date(6, 22), utc(), &no_floor)
            .unwrap()
            .verdict;
        assert_eq!(flagged.status, Status::Anomalous);

        let big = judge(&s, HOST, date(6, 23), utc(), &cfg).unwrap().verdict;
        assert_eq!(big.status, Status::Anomalous, "{big:?}");
        assert_eq!(big.explanation[0].app, "Safari", "{big:?}");
    }

    #[test]
    fn learning_then_judged_and_anomalous_days_stay_out_of_baselines() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        // 2026-06-01 is a Monday: four weeks of normal days, then one with
        // films all night (Mon 29 Jun) and a normal Tuesday.
        let first = date(6, 1);
        for i in 0..28 {
            write_day(&mut s, first + Duration::days(i), Scenario::Normal, &[]);
        }
        write_day(&mut s, date(6, 29), Scenario::StreamingAllNight, &[]);
        write_day(&mut s, date(6, 30), Scenario::Normal, &[]);
        write_day(&mut s, date(7, 1), Scenario::Normal, &[1, 2, 3, 4, 5]);
        let cfg = config();
        let now = Utc::now();

        let early = judge_and_store(&mut s, HOST, date(6, 5), utc(), &cfg, now).unwrap();
        assert_eq!(early.status, Status::Learning);
        assert_eq!(early.summary, "Fri 5 Jun: learning, 4 of 7 days");

        let bad = judge_and_store(&mut s, HOST, date(6, 29), utc(), &cfg, now).unwrap();
        assert_eq!(bad.status, Status::Anomalous, "{bad:?}");
        assert_eq!(bad.baseline_days, 14);
        let first_run = &bad.explanation[0];
        assert_eq!(first_run.app, "Netflix", "{bad:?}");
        assert_eq!((first_run.from_hour, first_run.to_hour), (0, 7), "{bad:?}");
        assert!(
            bad.summary.starts_with("Mon 29 Jun: Netflix 00:00–07:00, "),
            "{}",
            bad.summary
        );
        // The saved model re-judges the day the same way.
        let record = s.verdict(HOST, date(6, 29)).unwrap().unwrap();
        let again = recheck(&s, &record, utc()).unwrap().unwrap();
        assert_eq!(Some(again.error), bad.error);
        assert_eq!(parse_verdict(&record).unwrap(), bad);

        let next = judge_and_store(&mut s, HOST, date(6, 30), utc(), &cfg, now).unwrap();
        assert_eq!(next.status, Status::Normal, "{next:?}");
        assert!(
            !next.baseline.contains(&date(6, 29)),
            "the anomalous day is left out"
        );
        assert!(s.mark_normal(HOST, date(6, 29)).unwrap());
        let next = judge(&s, HOST, date(6, 30), utc(), &cfg).unwrap().verdict;
        assert!(
            next.baseline.contains(&date(6, 29)),
            "marked normal: used again"
        );

        let gappy = judge(&s, HOST, date(7, 1), utc(), &cfg).unwrap().verdict;
        assert_eq!(gappy.status, Status::InsufficientData);
        assert_eq!(gappy.uncollected_hours, 5);
        let lenient = IntelConfig {
            max_uncollected_hours: 6,
            ..config()
        };
        let filled = judge(&s, HOST, date(7, 1), utc(), &lenient)
            .unwrap()
            .verdict;
        assert_eq!(
            filled.status,
            Status::Normal,
            "gaps are filled, not read as quiet: {filled:?}"
        );
    }

    #[test]
    fn the_original_model_has_exactly_120_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        for i in 0..12 {
            write_day(
                &mut s,
                date(6, 1) + Duration::days(i),
                Scenario::Normal,
                &[],
            );
        }
        let cfg = IntelConfig {
            model: ModelKind::Original,
            epochs: 5,
            ..IntelConfig::default()
        };
        let j = judge(&s, HOST, date(6, 12), utc(), &cfg).unwrap();
        assert_eq!(j.verdict.apps.len(), 5);
        let d = j.detector.unwrap();
        assert_eq!(d.meta.columns.len() * 24, 120);
        assert!(!d.meta.columns.names.contains(&matrix::OTHER.to_string()));
    }

    #[test]
    fn invalid_settings_are_refused() {
        let bad = IntelConfig {
            baseline_days: 3,
            ..IntelConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("baseline_days"));
        let bad = IntelConfig {
            nightly_at: "midnight".into(),
            ..IntelConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("nightly_at"));
        assert_eq!(
            last_complete_day(
                "2026-07-12T00:30:00Z".parse().unwrap(),
                "Europe/Berlin".parse().unwrap()
            ),
            date(7, 11)
        );
    }
}
