//! The `[intel]` section of the configuration: how days are judged.

use chrono::Weekday;
use serde::{Deserialize, Serialize};

use super::baseline::BaselineRules;
use super::detector::{ModelKind, ModelSpec, TrainSettings};
use crate::human::DataSize;

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
    /// [`crate::intel::stats::fenced_worst`]) × this.
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
    /// What is new is a signal of its own: an app never seen before, or an
    /// organisation or country an app never exchanged bytes with, that
    /// moves at least `min_change_bytes` in a day.
    pub novelty: bool,
    /// Names the destinations of explanations (`[destinations]`).
    #[serde(skip)]
    pub names: crate::destination::Namer,
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
            novelty: true,
            names: crate::destination::Namer::default(),
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
