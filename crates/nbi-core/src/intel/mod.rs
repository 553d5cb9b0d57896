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
pub mod life;
pub mod matrix;
pub mod routine;
pub mod typical;
pub mod uploads;
pub mod verdict;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::human::DataSize;
use crate::store::{HostFilter, Store, VerdictRecord};
use baseline::{day_kind, BaselineRules, DayKind};
use detector::{Detector, Judgement, ModelKind, ModelMeta, ModelSpec, TrainSettings};
use routine::{ChangedBy, RoutineChange};
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
    /// Judge the hours of today so far once an hour, and notify (once a
    /// day) when they are already unusual: a 03:00 burst is known by 04:00,
    /// not the next morning.
    pub same_day: bool,
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
            same_day: true,
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
///
/// Days judged anomalous stay out of later baselines; when the day and the
/// [`routine::EVIDENCE_DAYS`]` - 1` days of its kind before it were all
/// unusual and agree with each other, they are a new routine: the verdict
/// is normal, carries the [`RoutineChange`] (announced once) and later
/// baselines start on its first day.
pub fn judge<S: Store + ?Sized>(
    store: &S,
    host: &str,
    day: NaiveDate,
    tz: Tz,
    config: &IntelConfig,
) -> Result<Judged, IntelError> {
    judge_hours(store, host, day, tz, config, None)
}

/// Judges the hours of today that have ended at `now` (local `0..hour`)
/// against the same hours of the baseline: the rest of the day counts as
/// typical (the baseline's median), so only what already happened can
/// differ. `None` in the day's first hour. Same-day verdicts are not
/// stored and never recognise a change of routine; the nightly check
/// judges the whole day.
pub fn judge_so_far<S: Store + ?Sized>(
    store: &S,
    host: &str,
    now: DateTime<Utc>,
    tz: Tz,
    config: &IntelConfig,
) -> Result<Option<Judged>, IntelError> {
    let (day, hour) = crate::store::timeline::local_day_hour(now, tz);
    if hour == 0 {
        return Ok(None);
    }
    judge_hours(store, host, day, tz, config, Some(hour)).map(Some)
}

fn judge_hours<S: Store + ?Sized>(
    store: &S,
    host: &str,
    day: NaiveDate,
    tz: Tz,
    config: &IntelConfig,
    until: Option<u8>,
) -> Result<Judged, IntelError> {
    config.validate().map_err(IntelError::Invalid)?;
    let rules = config.rules();
    let kind = day_kind(day, &rules.work_week);
    let loaded = history_for(store, host, day, tz, &rules)?;
    let mut target = loaded
        .history
        .iter()
        .find(|d| d.day == day)
        .cloned()
        .ok_or_else(|| IntelError::Invalid(format!("no day {day} in the loaded range")))?;
    let judged_hours = usize::from(until.unwrap_or(24)).min(24);
    let uncollected = target.uncollected[..judged_hours]
        .iter()
        .filter(|u| **u)
        .count() as u32;
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
        uncollected_hours: uncollected,
        model: config.model,
        summary: String::new(),
        routine: None,
        routine_ended: None,
        hours_judged: until,
        quiet: false,
    };
    let finish = |mut v: Verdict| {
        v.summary = verdict::summary(&v, config.min_baseline_days, config.max_uncollected_hours);
        v
    };
    if uncollected > config.max_uncollected_hours {
        tracing::info!(%day, hours = uncollected, "not judged: too little data");
        return Ok(Judged {
            verdict: finish(verdict),
            detector: None,
        });
    }
    let base = loaded.select(day, &rules);
    verdict.baseline_days = base.days.len();
    verdict.baseline = base.dates();
    // A new routine is judged once its evidence days are there: waiting
    // for a full week of it would leave the owner unwatched meanwhile.
    let relearning = loaded.since(kind).is_some();
    let needed = match relearning {
        true => rules.min_days.min(routine::EVIDENCE_DAYS),
        false => rules.min_days,
    };
    if base.days.len() < needed {
        verdict.status = Status::Learning;
        tracing::info!(%day, days = base.days.len(), "learning");
        let mut verdict = finish(verdict);
        if relearning {
            verdict.summary = format!(
                "{}: learning the new rhythm, {} of {needed} days",
                verdict::short_day(day),
                base.days.len()
            );
        }
        return Ok(Judged {
            verdict,
            detector: None,
        });
    }
    if until.is_some() {
        fill_rest(&mut target, judged_hours, &base.days);
    }
    let floor = config.min_change_bytes.0 as f64;
    let mut detector = None;
    let mut below_floor = false;
    let mut change = 0.0;
    if base.days.len() < rules.min_days {
        // A young routine: too few days for a model. Only what is far
        // beyond every day of it is unusual.
        let mut runs = routine::beyond_envelope(&target, &base.days, floor);
        merge_uploads(
            &mut runs,
            uploads::unusual_uploads(&target, &base.days, floor),
        );
        verdict.status = match runs.is_empty() {
            true => Status::Normal,
            false => Status::Anomalous,
        };
        verdict.explanation = runs;
    } else {
        let d = Detector::train(&base.days, &config.settings())?;
        let j = d.judge(&target)?;
        verdict.error = Some(j.error);
        verdict.threshold = Some(j.threshold);
        verdict.apps = d.meta.columns.names.clone();
        change = j.bytes_above_typical(&d.meta);
        below_floor = j.anomalous() && change < floor;
        // Uploads are judged apart: in the matrix they add to the downloads
        // of the same hour, where a busy hour hides them.
        let uploads = uploads::unusual_uploads(&target, &base.days, floor);
        if j.anomalous() && !below_floor {
            verdict.status = Status::Anomalous;
            verdict.explanation = verdict::explain(&j, &d.meta);
            name_the_app_behind_groups(&mut verdict.explanation, &d.meta.columns, &target);
        } else {
            verdict.status = Status::Normal;
        }
        if !uploads.is_empty() {
            verdict.status = Status::Anomalous;
            merge_uploads(&mut verdict.explanation, uploads);
        }
        // So is an hour far beyond anything the baseline ever saw in it:
        // the model's error is spread over every cell of the day, where one
        // burst among typical hours (the hours so far) can drown.
        let bursts = routine::beyond_envelope(&target, &base.days, floor);
        if !bursts.is_empty() {
            verdict.status = Status::Anomalous;
            for run in bursts {
                let known = verdict.explanation.iter().any(|e| {
                    e.app == run.app && run.from_hour < e.to_hour && e.from_hour < run.to_hour
                });
                if !known {
                    verdict.explanation.push(run);
                }
            }
        }
        detector = Some(d);
    }
    // A public holiday is a day off on a weekday, a Saturday of work a
    // workday: unusual for its date's kind, usual for the other.
    let mut said = None;
    if verdict.status == Status::Anomalous {
        if let Some((other, j)) = loaded.as_other_kind(&target, until, &rules, config)? {
            tracing::info!(%day, kind = ?other, "unusual for its kind of day, usual for the other");
            verdict.status = Status::Normal;
            verdict.day_kind = other;
            verdict.explanation.clear();
            verdict.error = Some(j.error);
            verdict.threshold = Some(j.threshold);
            said = Some(format!(
                "normal for a {}",
                match other {
                    DayKind::Workday => "workday",
                    DayKind::DayOff => "day off",
                }
            ));
        }
    }
    // A young routine that the day does not fit, but the one before it
    // does, was passing (a week abroad): back to the one before.
    if verdict.status == Status::Anomalous && relearning && base.days.len() < rules.min_days {
        if let Some(since) = loaded.back_to_before(&target, until, &rules, config)? {
            tracing::info!(%day, %since, "the routine since then was passing: back to the one before");
            verdict.status = Status::Normal;
            verdict.explanation.clear();
            if until.is_none() {
                verdict.routine_ended = Some(since);
            }
            said = Some("back to the usual rhythm".to_string());
        }
    }
    if verdict.status == Status::Anomalous && until.is_none() {
        if let Some(since) = loaded.new_routine(&target, &base.days, &rules, floor) {
            tracing::info!(%day, %since, ?kind, "a lasting change of routine: learning it");
            verdict.status = Status::Normal;
            verdict.explanation.clear();
            verdict.routine = Some(RoutineChange {
                since,
                kind: Some(kind),
                by: ChangedBy::Detected,
            });
        }
    }
    let mut verdict = finish(verdict);
    if let Some(said) = said {
        verdict.summary = format!("{}: {said}", verdict::short_day(day));
    } else if below_floor && verdict.status == Status::Normal && verdict.routine.is_none() {
        tracing::info!(%day, change_bytes = change, floor = config.min_change_bytes.0, "the model saw a change, too small to matter");
        verdict.quiet = true;
        verdict.summary = format!(
            "{}; only {} more than the typical day (an alarm needs {})",
            verdict.summary,
            crate::human::bytes(change as u64),
            crate::human::bytes(config.min_change_bytes.0)
        );
    } else if detector.is_none() && verdict.status == Status::Normal && verdict.routine.is_none() {
        verdict.summary = format!(
            "{}: normal (learning the new rhythm, {} of {} days)",
            verdict::short_day(day),
            base.days.len(),
            rules.min_days
        );
    }
    tracing::info!(%day, status = %verdict.status, error = ?verdict.error, threshold = ?verdict.threshold, "judged");
    Ok(Judged { verdict, detector })
}

/// The days a day's baseline is chosen from, and what the verdicts before
/// it say about them.
pub(crate) struct Loaded {
    /// The days of the look-back window up to the day itself (gaps filled).
    pub history: Vec<matrix::DayUsage>,
    /// Days judged anomalous, not marked normal and not the evidence of a
    /// change of routine: left out of baselines.
    pub anomalous: BTreeSet<NaiveDate>,
    /// Days the model found unusual but too small to matter (see
    /// [`baseline::Marks::quiet`]).
    pub quiet: BTreeSet<NaiveDate>,
    /// The latest change of routine in the window, and the day of the
    /// verdict that holds it.
    pub change: Option<(RoutineChange, NaiveDate)>,
    /// The change in force before `change`, if any.
    pub previous: Option<(RoutineChange, NaiveDate)>,
    /// Days judged as the other kind than their date's.
    pub kinds: std::collections::BTreeMap<NaiveDate, DayKind>,
}

impl Loaded {
    /// The first day of the routine in force for days of `kind`.
    fn since(&self, kind: DayKind) -> Option<NaiveDate> {
        self.change
            .filter(|(c, _)| c.covers(kind))
            .map(|(c, _)| c.since)
    }

    /// The baseline of `day`: of its kind, from the current routine on.
    pub fn select(&self, day: NaiveDate, rules: &BaselineRules) -> baseline::Baseline<'_> {
        self.select_as(day, day_kind(day, &rules.work_week), rules)
    }

    /// The baseline of `day` as a day of `kind`.
    pub fn select_as(
        &self,
        day: NaiveDate,
        kind: DayKind,
        rules: &BaselineRules,
    ) -> baseline::Baseline<'_> {
        let marks = baseline::Marks {
            anomalous: self.anomalous.clone(),
            quiet: self.quiet.clone(),
            since: self.since(kind),
            kinds: self.kinds.clone(),
        };
        baseline::select_as(&self.history, day, kind, rules, &marks)
    }

    /// When `target`, unusual for its date's kind of day, is usual for the
    /// other kind (and its baseline is learnt): that kind, and how it was
    /// judged.
    fn as_other_kind(
        &self,
        target: &matrix::DayUsage,
        until: Option<u8>,
        rules: &BaselineRules,
        config: &IntelConfig,
    ) -> Result<Option<(DayKind, Judgement)>, IntelError> {
        let other = match day_kind(target.day, &rules.work_week) {
            DayKind::Workday => DayKind::DayOff,
            DayKind::DayOff => DayKind::Workday,
        };
        let base = self.select_as(target.day, other, rules);
        Ok(usual_for(target, until, &base, rules, config)?.map(|j| (other, j)))
    }

    /// When `target`, unusual for the young routine in force, is usual for
    /// the routine before it (its days since left out, and a model of it
    /// learnt): the young routine's first day, which ends it.
    fn back_to_before(
        &self,
        target: &matrix::DayUsage,
        until: Option<u8>,
        rules: &BaselineRules,
        config: &IntelConfig,
    ) -> Result<Option<NaiveDate>, IntelError> {
        let Some((young, _)) = self.change else {
            return Ok(None);
        };
        let kind = day_kind(target.day, &rules.work_week);
        let mut anomalous = self.anomalous.clone();
        anomalous.extend(
            self.history
                .iter()
                .map(|d| d.day)
                .filter(|d| *d >= young.since && *d < target.day),
        );
        let marks = baseline::Marks {
            anomalous,
            quiet: self.quiet.clone(),
            since: self
                .previous
                .filter(|(c, _)| c.covers(kind))
                .map(|(c, _)| c.since),
            kinds: self.kinds.clone(),
        };
        let base = baseline::select_as(&self.history, target.day, kind, rules, &marks);
        Ok(usual_for(target, until, &base, rules, config)?.map(|_| young.since))
    }

    /// When `target` (judged unusual) and the days of its kind just before
    /// it were all judged unusual and agree with each other: the first of
    /// them, where the new routine starts.
    fn new_routine(
        &self,
        target: &matrix::DayUsage,
        baseline: &[&matrix::DayUsage],
        rules: &BaselineRules,
        floor: f64,
    ) -> Option<NaiveDate> {
        let kind = day_kind(target.day, &rules.work_week);
        let since = self.since(kind);
        let mut evidence: Vec<&matrix::DayUsage> = self
            .history
            .iter()
            .rev()
            .filter(|d| d.day < target.day && day_kind(d.day, &rules.work_week) == kind)
            .filter(|d| since.is_none_or(|s| d.day >= s))
            .filter(|d| d.uncollected_hours() <= rules.max_uncollected_hours)
            .take(routine::EVIDENCE_DAYS - 1)
            .collect();
        if evidence.len() + 1 < routine::EVIDENCE_DAYS
            || !evidence.iter().all(|d| self.anomalous.contains(&d.day))
        {
            return None;
        }
        evidence.reverse();
        evidence.push(target);
        routine::agree(&evidence, baseline, floor).then(|| evidence[0].day)
    }
}

/// How `target` (a day, or its hours `0..until`) is judged against
/// another baseline than its own, when it is usual there: not flagged by a
/// model of `base` (or by fewer bytes than the floor) and no upload beyond
/// it. `None` when it is not, or `base` is too small to say. An hour far
/// beyond every day of `base` (see [`routine::beyond_envelope`]) rules it
/// out without training a model (a 20 GB burst is unusual for a workday
/// and a day off alike).
fn usual_for(
    target: &matrix::DayUsage,
    until: Option<u8>,
    base: &baseline::Baseline<'_>,
    rules: &BaselineRules,
    config: &IntelConfig,
) -> Result<Option<Judgement>, IntelError> {
    let floor = config.min_change_bytes.0 as f64;
    if !base.enough(rules) || !routine::beyond_envelope(target, &base.days, floor).is_empty() {
        return Ok(None);
    }
    let mut target = target.clone();
    if let Some(h) = until {
        fill_rest(&mut target, usize::from(h), &base.days);
    }
    let detector = Detector::train(&base.days, &config.settings())?;
    let j = detector.judge(&target)?;
    let usual = !j.anomalous() || j.bytes_above_typical(&detector.meta) < floor;
    let uploads = uploads::unusual_uploads(&target, &base.days, floor);
    Ok((usual && uploads.is_empty()).then_some(j))
}

/// Sets the hours `from..24` of `target` (a day so far) to the typical
/// hours of `baseline`, marked not seen (uploads skip them): the hours to
/// come count as typical.
fn fill_rest(target: &mut matrix::DayUsage, from: usize, baseline: &[&matrix::DayUsage]) {
    let typical = routine::typical_day(target.day, baseline);
    let typical_out = routine::typical_out(baseline);
    for h in from.min(24)..24 {
        target.uncollected[h] = true;
        for cells in target.apps.values_mut().chain(target.out.values_mut()) {
            cells[h] = 0.0;
        }
        for (app, cells) in &typical.apps {
            target.apps.entry(app.clone()).or_insert([0.0; 24])[h] = cells[h];
        }
        for (app, cells) in &typical_out {
            target.out.entry(app.clone()).or_insert([0.0; 24])[h] = cells[h];
        }
    }
}

/// The days up to `day` that its baseline is chosen from (gaps filled), and
/// what the verdicts of those days say (see [`Loaded`]).
pub(crate) fn history_for<S: Store + ?Sized>(
    store: &S,
    host: &str,
    day: NaiveDate,
    tz: Tz,
    rules: &BaselineRules,
) -> Result<Loaded, IntelError> {
    let kind = day_kind(day, &rules.work_week);
    // Far enough back for either kind: a day may be judged as the other.
    let back = rules
        .lookback(DayKind::Workday)
        .max(rules.lookback(DayKind::DayOff));
    let from = day - Duration::days(back);
    let history = matrix::load_days(store, &HostFilter::One(host.to_string()), from, day, tz)?;
    let earlier = day.pred_opt().unwrap_or(day);
    let records: Vec<(VerdictRecord, Said)> = store
        .verdicts(host, from, earlier)?
        .into_iter()
        .filter(|r| r.day < day)
        .map(|r| {
            let said = Said::of(&r);
            (r, said)
        })
        .collect();
    // The changes of routine of this kind in force, oldest first; a change
    // found passing is taken off, and its days left out.
    let mut changes: Vec<(RoutineChange, NaiveDate)> = Vec::new();
    let mut passing: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for (r, said) in &records {
        if let Some(c) = said.routine.filter(|c| c.covers(kind)) {
            changes.push((c, r.day));
        }
        if let Some(since) = said.routine_ended {
            if let Some(at) = changes.iter().rposition(|(c, _)| c.since == since) {
                changes.truncate(at);
                passing.push((since, r.day));
            }
        }
    }
    let change = changes.last().copied();
    let previous = changes.len().checked_sub(2).map(|i| changes[i]);
    // The evidence of a change (from its first day to the day it was
    // recognised) is the new routine, not a run of anomalies.
    let evidence = |d: NaiveDate| change.is_some_and(|(c, at)| c.since <= d && d <= at);
    let anomalous = records
        .iter()
        .filter(|(v, _)| v.status == Status::Anomalous && !v.marked_normal)
        .map(|(v, _)| v.day)
        .filter(|d| !evidence(*d))
        .chain(
            records
                .iter()
                .map(|(v, _)| v.day)
                .filter(|d| passing.iter().any(|(from, to)| from <= d && d < to)),
        )
        .collect();
    let quiet = records
        .iter()
        .filter(|(v, said)| said.quiet && !v.marked_normal)
        .map(|(v, _)| v.day)
        .collect();
    let kinds = records
        .iter()
        .filter_map(|(v, said)| Some((v.day, said.day_kind?)))
        .filter(|(d, k)| *k != day_kind(*d, &rules.work_week))
        .collect();
    Ok(Loaded {
        history,
        anomalous,
        quiet,
        change,
        previous,
        kinds,
    })
}

/// What a stored verdict says beyond its status: the change of routine it
/// holds and whether the day was quiet (a verdict that does not parse says
/// neither).
#[derive(Debug, Default, Deserialize)]
struct Said {
    #[serde(default)]
    routine: Option<RoutineChange>,
    #[serde(default)]
    quiet: bool,
    #[serde(default)]
    day_kind: Option<DayKind>,
    #[serde(default)]
    routine_ended: Option<NaiveDate>,
}

impl Said {
    fn of(record: &VerdictRecord) -> Said {
        serde_json::from_str(&record.verdict_json).unwrap_or_default()
    }
}

/// The owner's "this is my new normal from `day`": baselines of every kind
/// of day start on `day`, and the verdicts from it on (anomalous ones
/// included) are marked normal. `day` must have been judged: its verdict
/// keeps the change. Returns the verdicts marked.
///
/// # Errors
/// [`IntelError::Invalid`] when `day` has no verdict or its verdict does
/// not parse; store errors as they come.
pub fn new_normal<S: Store + ?Sized>(
    store: &mut S,
    host: &str,
    day: NaiveDate,
) -> Result<usize, IntelError> {
    let record = store.verdict(host, day)?.ok_or_else(|| {
        IntelError::Invalid(format!(
            "{day} has not been judged yet: a new normal starts on a judged day"
        ))
    })?;
    let mut verdict: Verdict = serde_json::from_str(&record.verdict_json)
        .map_err(|e| IntelError::Invalid(format!("the verdict of {day} does not parse: {e}")))?;
    verdict.routine = Some(RoutineChange {
        since: day,
        kind: None,
        by: ChangedBy::Owner,
    });
    store.put_verdict(&VerdictRecord {
        verdict_json: serde_json::to_string(&verdict)
            .map_err(|e| IntelError::Invalid(e.to_string()))?,
        marked_normal: true,
        ..record
    })?;
    let end = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(day);
    let later = store.verdicts(host, day, end)?;
    let mut marked = 1;
    for v in later.iter().filter(|v| v.day > day) {
        if store.mark_normal(host, v.day)? {
            marked += 1;
        }
    }
    Ok(marked)
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
    let mut judged = judge(&*store, host, day, tz, config)?;
    // The owner's new normal starting on this day outlives judging it again.
    let owners = store
        .verdict(host, day)?
        .and_then(|r| Said::of(&r).routine)
        .filter(|r| r.by == ChangedBy::Owner);
    if owners.is_some() {
        judged.verdict.routine = owners;
    }
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
                .contains("more than the typical day (an alarm needs 200 MB)"),
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
    fn a_lasting_change_is_learnt_with_one_notice_and_a_one_off_day_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        // Four weeks of the old routine from Mon 1 Jun; from Mon 29 Jun a
        // new video-call app every workday, 11:00-13:00 (800 MB an hour);
        // Thu 9 Jul also a 20 GB burst at 03:00 (a one-off).
        for i in 0..28 {
            write_day_with(&mut s, date(6, 1) + Duration::days(i), &[]);
        }
        let teams = ("Microsoft Teams", 11..13, 8e8);
        let mut day = date(6, 29);
        while day <= date(7, 14) {
            match (day == date(7, 9), day.weekday().number_from_monday() <= 5) {
                (true, _) => write_day_with(&mut s, day, &[teams.clone(), ("Dropbox", 3..4, 2e10)]),
                (false, true) => write_day_with(&mut s, day, std::slice::from_ref(&teams)),
                (false, false) => write_day_with(&mut s, day, &[]),
            }
            day += Duration::days(1);
        }
        let cfg = config();
        let now = Utc::now();
        let mut verdicts = Vec::new();
        let mut day = date(6, 29);
        while day <= date(7, 14) {
            verdicts.push(judge_and_store(&mut s, HOST, day, utc(), &cfg, now).unwrap());
            day += Duration::days(1);
        }
        let alarms: Vec<NaiveDate> = verdicts
            .iter()
            .filter(|v| v.status == Status::Anomalous)
            .map(|v| v.day)
            .collect();
        assert_eq!(
            alarms,
            vec![date(6, 29), date(6, 30), date(7, 9)],
            "{:#?}",
            verdicts.iter().map(|v| &v.summary).collect::<Vec<_>>()
        );
        let notices: Vec<_> = verdicts.iter().filter_map(Verdict::notice).collect();
        let changed: Vec<&str> = notices
            .iter()
            .filter(|n| n.title == verdict::ROUTINE_TITLE)
            .map(|n| n.body.as_str())
            .collect();
        assert_eq!(
            changed,
            vec![
                "Wed 1 Jul: Your weekdays look different since Mon 29 Jun; learning the new rhythm"
            ]
        );
        // The burst stays out of the baselines after it; the new routine's
        // first days are in them.
        let fri = verdicts.iter().find(|v| v.day == date(7, 10)).unwrap();
        assert!(!fri.baseline.contains(&date(7, 9)), "{fri:?}");
        assert_eq!(fri.baseline.first(), Some(&date(6, 29)), "{fri:?}");
        // Days off kept their own baseline.
        let sun = verdicts.iter().find(|v| v.day == date(7, 12)).unwrap();
        assert!(sun.baseline.contains(&date(6, 28)), "{sun:?}");
    }

    #[test]
    fn a_public_holiday_is_a_day_off_and_joins_the_days_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        for i in 0..42 {
            let day = date(6, 1) + Duration::days(i);
            if day == date(7, 8) {
                // Wed 8 Jul: a holiday, spent as a Sunday is.
                let mut gen = Generator::new(77);
                let names: Vec<String> = gen.habits.iter().map(|h| h.app.to_string()).collect();
                let hours = gen.hours_as(false);
                let start = crate::store::local_day_bounds(day, utc()).start;
                let ticks: Vec<Tick> = (0..24usize)
                    .map(|h| {
                        Tick::from_totals(
                            HOST,
                            start + Duration::hours(h as i64),
                            3600,
                            names
                                .iter()
                                .zip(&hours)
                                .map(|(a, v)| (a.clone(), (v[h] as u64, 0))),
                        )
                    })
                    .collect();
                s.write(&ticks).unwrap();
            } else {
                write_day_with(&mut s, day, &[]);
            }
        }
        let cfg = config();
        let now = Utc::now();
        let holiday = judge_and_store(&mut s, HOST, date(7, 8), utc(), &cfg, now).unwrap();
        assert_eq!(holiday.status, Status::Normal, "{holiday:?}");
        assert_eq!(holiday.day_kind, DayKind::DayOff);
        assert_eq!(holiday.summary, "Wed 8 Jul: normal for a day off");
        let thu = judge(&s, HOST, date(7, 9), utc(), &cfg).unwrap().verdict;
        assert!(!thu.baseline.contains(&date(7, 8)), "{thu:?}");
        let sun = judge(&s, HOST, date(7, 12), utc(), &cfg).unwrap().verdict;
        assert!(sun.baseline.contains(&date(7, 8)), "{sun:?}");
        // Films all day on a workday are unusual as a day off too.
        write_day_with(&mut s, date(7, 13), &[("Netflix", 9..17, 1.5e9)]);
        let films = judge(&s, HOST, date(7, 13), utc(), &cfg).unwrap().verdict;
        assert_eq!(
            (films.status, films.day_kind),
            (Status::Anomalous, DayKind::Workday)
        );
    }

    #[test]
    fn unrelated_unusual_days_in_a_row_are_no_new_routine() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        for i in 0..28 {
            write_day_with(&mut s, date(6, 1) + Duration::days(i), &[]);
        }
        // Mon-Wed: a burst at 03:00, films all night, films at work.
        write_day_with(&mut s, date(6, 29), &[("Dropbox", 3..4, 2e10)]);
        write_day_with(&mut s, date(6, 30), &[("Netflix", 0..7, 1.5e9)]);
        write_day_with(&mut s, date(7, 1), &[("Netflix", 9..17, 1.5e9)]);
        let cfg = config();
        let now = Utc::now();
        for day in [date(6, 29), date(6, 30), date(7, 1)] {
            let v = judge_and_store(&mut s, HOST, day, utc(), &cfg, now).unwrap();
            assert_eq!(v.status, Status::Anomalous, "{v:?}");
            assert!(v.routine.is_none());
        }
    }

    #[test]
    fn a_new_normal_from_a_day_rebaselines_every_kind_of_day() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        for i in 0..28 {
            write_day_with(&mut s, date(6, 1) + Duration::days(i), &[]);
        }
        // A move: from Mon 29 Jun a NAS syncs all evening, every day.
        for i in 0..7 {
            write_day_with(
                &mut s,
                date(6, 29) + Duration::days(i),
                &[("Synology Drive", 18..23, 1e9)],
            );
        }
        let cfg = config();
        let now = Utc::now();
        let first = judge_and_store(&mut s, HOST, date(6, 29), utc(), &cfg, now).unwrap();
        assert_eq!(first.status, Status::Anomalous);
        let err = new_normal(&mut s, HOST, date(7, 2))
            .unwrap_err()
            .to_string();
        assert!(err.contains("2026-07-02 has not been judged"), "{err}");

        assert_eq!(new_normal(&mut s, HOST, date(6, 29)).unwrap(), 1);
        let record = s.verdict(HOST, date(6, 29)).unwrap().unwrap();
        assert!(record.marked_normal);
        // Too few days of the new normal yet: learning, not an alarm.
        let tue = judge_and_store(&mut s, HOST, date(6, 30), utc(), &cfg, now).unwrap();
        assert_eq!(tue.status, Status::Learning, "{tue:?}");
        assert_eq!(tue.baseline, vec![date(6, 29)]);
        assert_eq!(
            tue.summary,
            "Tue 30 Jun: learning the new rhythm, 1 of 3 days"
        );
        let mut day = date(7, 1);
        while day <= date(7, 5) {
            judge_and_store(&mut s, HOST, day, utc(), &cfg, now).unwrap();
            day += Duration::days(1);
        }
        // Sun 5 Jul: the baseline of days off starts on the new normal too.
        let sun = s.verdict(HOST, date(7, 5)).unwrap().unwrap();
        let sun = parse_verdict(&sun).unwrap();
        assert!(sun.baseline.iter().all(|d| *d >= date(6, 29)), "{sun:?}");
        assert_ne!(sun.status, Status::Anomalous, "{sun:?}");
        // Every later verdict, judged before the owner said so, is marked.
        assert_eq!(new_normal(&mut s, HOST, date(6, 29)).unwrap(), 7);
        // Judged again, the day keeps the owner's word.
        let again = judge_and_store(&mut s, HOST, date(6, 29), utc(), &cfg, now).unwrap();
        assert_eq!(again.routine.map(|r| r.by), Some(ChangedBy::Owner));
        let tue = judge(&s, HOST, date(6, 30), utc(), &cfg).unwrap().verdict;
        assert_eq!(tue.baseline, vec![date(6, 29)]);
    }

    /// Per-minute ticks of a synthetic day in `tz`, up to `until`, with
    /// (app, local hour, bytes) added.
    fn write_local_day(
        s: &mut SqliteStore,
        day: NaiveDate,
        tz: Tz,
        until: Option<DateTime<Utc>>,
        extra: &[(&str, u8, u64)],
    ) {
        let mut ticks = Generator::new(u64::from(day.ordinal())).day_ticks(HOST, day, tz, until);
        for (app, hour, bytes) in extra {
            let at = ticks
                .iter()
                .position(|t| crate::store::timeline::local_day_hour(t.at, tz).1 == *hour)
                .unwrap();
            let t = &ticks[at];
            let mut apps: Vec<(String, (u64, u64))> = t
                .apps
                .iter()
                .map(|a| (a.app.clone(), (a.bytes_in, a.bytes_out)))
                .collect();
            apps.push((app.to_string(), (*bytes, 0)));
            ticks[at] = Tick::from_totals(HOST, t.at, t.interval_s, apps);
        }
        s.write(&ticks).unwrap();
    }

    fn local(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        tz.with_ymd_and_hms(y, m, d, h, min, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_hours_so_far_are_judged_and_a_3am_burst_is_known_at_4() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        for i in 0..28 {
            write_local_day(&mut s, date(6, 1) + Duration::days(i), tz, None, &[]);
        }
        // Mon 29 Jun, watched until 04:10: a 20 GB download at 03:00.
        let now = local(tz, 2026, 6, 29, 4, 10);
        write_local_day(
            &mut s,
            date(6, 29),
            tz,
            Some(now),
            &[("Transmission", 3, 20_000_000_000)],
        );
        let cfg = config();
        let v = judge_so_far(&s, HOST, now, tz, &cfg)
            .unwrap()
            .unwrap()
            .verdict;
        assert_eq!(v.status, Status::Anomalous, "{v:?}");
        assert_eq!(v.hours_judged, Some(4));
        assert_eq!(v.uncollected_hours, 0, "hours to come are not gaps");
        assert_eq!(v.explanation[0].app, "Transmission", "{v:?}");
        assert_eq!(
            (v.explanation[0].from_hour, v.explanation[0].to_hour),
            (3, 4)
        );
        assert!(
            v.summary
                .starts_with("Mon 29 Jun until 04:00: Transmission"),
            "{}",
            v.summary
        );
        assert_eq!(v.notice().unwrap().title, "Unusual network use today");
        // Before the burst the same day is normal so far; so is an
        // ordinary Tuesday at 15:00 (its evening, not yet come, is not
        // missed).
        let early = judge_so_far(&s, HOST, local(tz, 2026, 6, 29, 3, 0), tz, &cfg)
            .unwrap()
            .unwrap()
            .verdict;
        assert_eq!(early.status, Status::Normal, "{early:?}");
        let tue_now = local(tz, 2026, 6, 30, 15, 5);
        write_local_day(&mut s, date(6, 30), tz, Some(tue_now), &[]);
        let tue = judge_so_far(&s, HOST, tue_now, tz, &cfg)
            .unwrap()
            .unwrap()
            .verdict;
        assert_eq!(
            (tue.status, tue.hours_judged),
            (Status::Normal, Some(15)),
            "{tue:?}"
        );
        // In the day's first hour there is nothing to judge yet.
        assert!(
            judge_so_far(&s, HOST, local(tz, 2026, 6, 30, 0, 40), tz, &cfg)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_hours_so_far_of_dst_days_are_the_local_hours_that_have_ended() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        let cfg = config();
        // Spring: Sun 29 Mar 2026 has no 02:00. Fall: Sun 25 Oct 2026 has
        // two. Eight weeks of days before each.
        for (sunday, burst_hour) in [(date(3, 29), 3u8), (date(10, 25), 4u8)] {
            let mut day = sunday - Duration::days(56);
            while day < sunday {
                write_local_day(&mut s, day, tz, None, &[]);
                day += Duration::days(1);
            }
            let (y, m, d) = (sunday.year(), sunday.month(), sunday.day());
            let now = local(tz, y, m, d, u32::from(burst_hour) + 1, 20);
            write_local_day(
                &mut s,
                sunday,
                tz,
                Some(now),
                &[("Transmission", burst_hour, 20_000_000_000)],
            );
            let v = judge_so_far(&s, HOST, now, tz, &cfg)
                .unwrap()
                .unwrap()
                .verdict;
            assert_eq!(v.hours_judged, Some(burst_hour + 1), "{v:?}");
            assert_eq!(v.uncollected_hours, 0, "{sunday}: {v:?}");
            assert_eq!(v.status, Status::Anomalous, "{sunday}: {v:?}");
            assert_eq!(v.explanation[0].app, "Transmission", "{v:?}");
            assert_eq!(v.explanation[0].from_hour, burst_hour, "{v:?}");
            // The hour before the burst: normal so far (at fall-back, in
            // the second 02:00 hour, hours 0-1 have ended).
            let before = local(tz, y, m, d, u32::from(burst_hour), 10);
            let b = judge_so_far(&s, HOST, before, tz, &cfg)
                .unwrap()
                .unwrap()
                .verdict;
            assert_eq!(
                (b.status, b.hours_judged),
                (Status::Normal, Some(burst_hour)),
                "{b:?}"
            );
        }
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
