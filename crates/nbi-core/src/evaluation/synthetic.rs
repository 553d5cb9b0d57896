//! Evaluation on synthetic days: how each model judges normal days, the four
//! kinds of day it must flag and the two benign variations it must not.
//!
//! Each trial is a made-up person's history (seeded); the model of the test
//! day's kind (workday or day off) learns from the `baseline_days` days of
//! that kind before it, then judges one fresh day of every scenario.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::intel::detector::{Detector, ModelKind, TrainSettings};
use crate::intel::error::IntelError;
use crate::intel::matrix::DayUsage;
use crate::synth::{is_workday, Generator, Scenario};

/// What to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    pub model: ModelKind,
    /// Test days of each scenario.
    pub days_per_kind: usize,
    /// Baseline days of the test day's kind.
    pub baseline_days: usize,
    pub seed: u64,
    pub epochs: usize,
    pub threshold_factor: f64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            model: ModelKind::Default,
            days_per_kind: 30,
            baseline_days: 30,
            seed: 1,
            epochs: 100,
            threshold_factor: 1.5,
        }
    }
}

/// The confusion row of one scenario, with where its errors fell relative
/// to the threshold (error / threshold: above 1 is flagged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindResult {
    pub scenario: Scenario,
    pub label: String,
    pub should_flag: bool,
    pub flagged: usize,
    pub passed: usize,
    pub ratio_min: f64,
    pub ratio_median: f64,
    pub ratio_max: f64,
}

impl KindResult {
    pub fn total(&self) -> usize {
        self.flagged + self.passed
    }

    /// Whether every day of this kind was judged right.
    pub fn all_right(&self) -> bool {
        if self.should_flag {
            self.passed == 0
        } else {
            self.flagged == 0
        }
    }
}

/// The result of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub model: ModelKind,
    pub days_per_kind: usize,
    pub baseline_days: usize,
    pub kinds: Vec<KindResult>,
    pub models_trained: usize,
    pub train_seconds: f64,
}

impl EvalReport {
    /// Recall 1.0 on the anomalies, no false alarm elsewhere.
    pub fn goal_met(&self) -> bool {
        self.kinds.iter().all(KindResult::all_right)
    }

    pub fn test_days(&self) -> usize {
        self.kinds.iter().map(KindResult::total).sum()
    }

    /// A confusion table per kind, one line each.
    pub fn table(&self) -> String {
        let mut out = format!(
            "model {}: {} test days, {}-day baselines, {} models trained in {:.1} s\n",
            self.model,
            self.test_days(),
            self.baseline_days,
            self.models_trained,
            self.train_seconds
        );
        out.push_str(&format!(
            "{:<40} {:>6} {:>7} {:>7} {:>6}   {}\n",
            "kind", "expect", "flagged", "passed", "right", "error/threshold min–median–max"
        ));
        for k in &self.kinds {
            let right = if k.should_flag { k.flagged } else { k.passed };
            out.push_str(&format!(
                "{:<40} {:>6} {:>7} {:>7} {:>6}   {:.2}–{:.2}–{:.2}{}\n",
                k.label,
                if k.should_flag { "flag" } else { "pass" },
                k.flagged,
                k.passed,
                format!("{}/{}", right, k.total()),
                k.ratio_min,
                k.ratio_median,
                k.ratio_max,
                if k.all_right() { "" } else { "   ✗" }
            ));
        }
        let anomalies: Vec<&KindResult> = self.kinds.iter().filter(|k| k.should_flag).collect();
        let caught: usize = anomalies.iter().map(|k| k.flagged).sum();
        let of: usize = anomalies.iter().map(|k| k.total()).sum();
        let false_alarms: usize = self
            .kinds
            .iter()
            .filter(|k| !k.should_flag)
            .map(|k| k.flagged)
            .sum();
        out.push_str(&format!(
            "recall {:.2} ({caught}/{of}), false alarms {false_alarms}: goal {}\n",
            if of == 0 {
                1.0
            } else {
                caught as f64 / of as f64
            },
            if self.goal_met() { "met" } else { "NOT met" }
        ));
        out
    }
}

/// A day seeded by (seed, trial, date, salt), independent of every other.
fn synthetic_day(seed: u64, trial: u64, day: NaiveDate, scenario: Scenario, salt: u64) -> DayUsage {
    let mix = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(trial.wrapping_mul(0xbf58_476d_1ce4_e5b9))
        .wrapping_add((chrono::Datelike::num_days_from_ce(&day) as u64).wrapping_mul(0x94d0_49bb))
        .wrapping_add(salt);
    DayUsage::complete(day, Generator::new(mix).scenario_day(day, scenario))
}

/// The first test date of trial `t`: trials step 3 days, so they visit
/// every day of the week.
fn trial_date(t: usize) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, 7).unwrap_or_default() + Days::days(3 * t as i64)
}

/// Runs the evaluation.
pub fn run(opts: &EvalOptions) -> Result<EvalReport, IntelError> {
    run_with_progress(opts, |_, _| {})
}

/// Runs the evaluation, calling `progress(done, of)` after each trial.
pub fn run_with_progress(
    opts: &EvalOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<EvalReport, IntelError> {
    if opts.days_per_kind == 0 || opts.baseline_days == 0 {
        return Err(IntelError::Invalid(
            "an evaluation needs test days and baseline days".into(),
        ));
    }
    let settings = TrainSettings {
        threshold_factor: opts.threshold_factor,
        epochs: opts.epochs,
        seed: opts.seed,
        ..TrainSettings::new(opts.model)
    };
    let mut ratios: BTreeMap<Scenario, Vec<f64>> = BTreeMap::new();
    let mut flagged: BTreeMap<Scenario, usize> = BTreeMap::new();
    let (mut trained, mut train_time) = (0usize, Duration::ZERO);
    for t in 0..opts.days_per_kind {
        let start = trial_date(t);
        let mut models: BTreeMap<bool, Detector> = BTreeMap::new();
        for (s, scenario) in Scenario::ALL.into_iter().enumerate() {
            let mut day = start;
            while scenario.needs_workday() && !is_workday(day) {
                day += Days::days(1);
            }
            let work = is_workday(day);
            if let std::collections::btree_map::Entry::Vacant(slot) = models.entry(work) {
                let mut history = Vec::new();
                let mut d = start - Days::days(1);
                while history.len() < opts.baseline_days {
                    if is_workday(d) == work {
                        history.push(synthetic_day(opts.seed, t as u64, d, Scenario::Normal, 0));
                    }
                    d -= Days::days(1);
                }
                history.reverse();
                let refs: Vec<&DayUsage> = history.iter().collect();
                let began = Instant::now();
                let mut trial_settings = settings.clone();
                trial_settings.seed = settings.seed.wrapping_add(t as u64 * 1000);
                let detector = Detector::train(&refs, &trial_settings)?;
                train_time += began.elapsed();
                trained += 1;
                slot.insert(detector);
            }
            let Some(model) = models.get(&work) else {
                continue;
            };
            let test = synthetic_day(opts.seed, t as u64, day, scenario, 1 + s as u64);
            let j = model.judge(&test)?;
            let ratio = if j.threshold > 0.0 {
                j.error / j.threshold
            } else {
                f64::INFINITY
            };
            ratios.entry(scenario).or_default().push(ratio);
            if j.anomalous() {
                *flagged.entry(scenario).or_default() += 1;
            }
        }
        progress(t + 1, opts.days_per_kind);
    }
    let kinds = Scenario::ALL
        .into_iter()
        .map(|s| {
            let mut r = ratios.remove(&s).unwrap_or_default();
            r.sort_by(f64::total_cmp);
            let f = flagged.get(&s).copied().unwrap_or(0);
            KindResult {
                scenario: s,
                label: s.label().to_string(),
                should_flag: s.is_anomaly(),
                flagged: f,
                passed: r.len() - f,
                ratio_min: r.first().copied().unwrap_or(0.0),
                ratio_median: r.get(r.len() / 2).copied().unwrap_or(0.0),
                ratio_max: r.last().copied().unwrap_or(0.0),
            }
        })
        .collect();
    Ok(EvalReport {
        model: opts.model,
        days_per_kind: opts.days_per_kind,
        baseline_days: opts.baseline_days,
        kinds,
        models_trained: trained,
        train_seconds: train_time.as_secs_f64(),
    })
}
