//! Lasting changes of routine. A run of recent days of one kind that all
//! disagree with the old baseline, and agree with each other, is a new
//! routine (new job hours, a new video-call app every workday), not a run
//! of anomalies: it is announced once and learnt, so the alarms stop. A
//! one-off unusual day agrees with nothing and stays out of the baseline.
//!
//! The owner can say the same ("this is my new normal from Mon 4 May"):
//! the baseline then starts on that day for every kind of day.
//!
//! A change is kept in the verdict of the day it was recognised on (or, the
//! owner's, of the day chosen), so both stores keep it with no schema of
//! its own; it matters for as long as that verdict is inside the baseline's
//! look-back window, which is exactly as long as older days could be chosen.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::baseline::DayKind;
use super::matrix::{median_day, DayUsage};
use super::stats::median;

/// Days of one kind in a row, the judged day included, that make a change
/// of routine: the first two are alarms, the third is recognised as a new
/// routine and every later one is judged against it.
pub const EVIDENCE_DAYS: usize = 3;

/// How much of each evidence day may be left once the change they share
/// is taken out: this many times a baseline day's usual distance from the
/// typical day. Days of a new routine are the change plus day-to-day
/// noise; a day with its own anomaly on top (a burst) is more.
pub const RESIDUAL: f64 = 2.0;

/// Who decided that a routine changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangedBy {
    /// Recognised from the days themselves.
    Detected,
    /// The owner's "this is my new normal".
    Owner,
}

/// A new routine: baselines of the days it covers start on `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutineChange {
    /// The first day of the new routine.
    pub since: NaiveDate,
    /// The kind of day that changed; `None`: every day (the owner's).
    pub kind: Option<DayKind>,
    pub by: ChangedBy,
}

impl RoutineChange {
    /// Whether days of `kind` are judged under this change.
    pub fn covers(&self, kind: DayKind) -> bool {
        self.kind.is_none_or(|k| k == kind)
    }

    /// The notification's sentence: "Your weekdays look different since
    /// Mon 4 May; learning the new rhythm".
    pub fn sentence(&self) -> String {
        let since = self.since.format("%a %-d %b");
        match (self.by, self.kind) {
            (ChangedBy::Owner, _) => {
                format!("New normal from {since}: learning the new rhythm")
            }
            (ChangedBy::Detected, kind) => {
                let days = match kind {
                    Some(DayKind::Workday) => "weekdays",
                    Some(DayKind::DayOff) => "days off",
                    None => "days",
                };
                format!("Your {days} look different since {since}; learning the new rhythm")
            }
        }
    }
}

/// The bytes by which two days differ: the sum over apps and hours of the
/// absolute difference of their cells (in + out).
pub fn distance(a: &DayUsage, b: &DayUsage) -> f64 {
    let apps = a.apps.keys().chain(b.apps.keys());
    let mut seen = std::collections::BTreeSet::new();
    let mut total = 0.0;
    for app in apps {
        if !seen.insert(app) {
            continue;
        }
        let x = a.apps.get(app);
        let y = b.apps.get(app);
        for h in 0..24 {
            let p = x.map_or(0.0, |c| c[h]);
            let q = y.map_or(0.0, |c| c[h]);
            total += (p - q).abs();
        }
    }
    total
}

/// Whether `evidence` (at least two days, each judged unusual against
/// `baseline`) share one change: cell by cell (app and hour), the part of
/// their departure from the baseline's typical day that every one of them
/// has, in the same direction, is at least `floor` bytes, and what is left
/// of each day once it is taken out is no more than ordinary day-to-day
/// noise ([`RESIDUAL`] × the median distance of a baseline day from the
/// typical day). Unrelated unusual days (a burst, a night of films, films
/// at work) share next to nothing.
pub fn agree(evidence: &[&DayUsage], baseline: &[&DayUsage], floor: f64) -> bool {
    if evidence.len() < 2 || baseline.is_empty() {
        return false;
    }
    let typical = median_day(evidence[0].day, baseline);
    let noise = median(baseline.iter().map(|d| distance(d, &typical)).collect());
    let apps: std::collections::BTreeSet<&String> = evidence
        .iter()
        .flat_map(|d| d.apps.keys())
        .chain(typical.apps.keys())
        .collect();
    let cell = |d: &DayUsage, app: &String, h: usize| d.apps.get(app).map_or(0.0, |c| c[h]);
    let mut shared = 0.0;
    let mut residual = vec![0.0; evidence.len()];
    for app in apps {
        for h in 0..24 {
            let base = cell(&typical, app, h);
            let devs: Vec<f64> = evidence.iter().map(|d| cell(d, app, h) - base).collect();
            let common = if devs.iter().all(|v| *v > 0.0) {
                devs.iter().copied().fold(f64::INFINITY, f64::min)
            } else if devs.iter().all(|v| *v < 0.0) {
                devs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            } else {
                0.0
            };
            shared += common.abs();
            for (r, v) in residual.iter_mut().zip(&devs) {
                *r += (v - common).abs();
            }
        }
    }
    tracing::debug!(
        shared,
        noise,
        ?residual,
        "does a run of unusual days share one change?"
    );
    shared >= floor && residual.iter().all(|r| *r <= RESIDUAL * noise)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn date(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default()
    }

    /// A day with `app` busy over `hours` at `mb` MB an hour, times a
    /// small per-day wobble.
    fn day(d: NaiveDate, busy: &[(&str, std::ops::Range<usize>, f64)]) -> DayUsage {
        let wobble = 1.0 + f64::from(chrono::Datelike::ordinal(&d) % 5) / 20.0;
        DayUsage::complete(
            d,
            busy.iter().map(|(app, hours, mb)| {
                let mut cells = [0.0; 24];
                for h in hours.clone() {
                    cells[h] = mb * 1e6 * wobble;
                }
                (app.to_string(), cells)
            }),
        )
    }

    fn office(d: NaiveDate) -> DayUsage {
        day(d, &[("Slack", 9..17, 50.0), ("zoom.us", 10..11, 400.0)])
    }

    fn late_shift(d: NaiveDate) -> DayUsage {
        day(d, &[("Slack", 14..22, 50.0), ("zoom.us", 15..16, 400.0)])
    }

    #[test]
    fn days_of_a_new_routine_agree_and_unrelated_unusual_days_do_not() {
        let base: Vec<DayUsage> = (0..10)
            .map(|i| office(date(6, 1) + Duration::days(i)))
            .collect();
        let base: Vec<&DayUsage> = base.iter().collect();
        let shifted: Vec<DayUsage> = (0..3)
            .map(|i| late_shift(date(6, 15) + Duration::days(i)))
            .collect();
        assert!(agree(&shifted.iter().collect::<Vec<_>>(), &base, 2e8));

        // A new app every workday on top of the old routine agrees too.
        let calls: Vec<DayUsage> = (0..3)
            .map(|i| {
                let mut d = office(date(6, 15) + Duration::days(i));
                d.apps.insert("Teams".into(), {
                    let mut c = [0.0; 24];
                    c[11..13].fill(500e6);
                    c
                });
                d
            })
            .collect();
        assert!(agree(&calls.iter().collect::<Vec<_>>(), &base, 2e8));

        // A 30 GB burst at 03:00, a night of films, films at work: each
        // unusual, none like the others.
        let mut burst = office(date(6, 15));
        burst.apps.insert("Dropbox".into(), {
            let mut c = [0.0; 24];
            c[3] = 30e9;
            c
        });
        let mut night = office(date(6, 16));
        night.apps.insert("Netflix".into(), {
            let mut c = [0.0; 24];
            c[0..7].fill(1.5e9);
            c
        });
        let mut films = office(date(6, 17));
        films.apps.insert("Netflix".into(), {
            let mut c = [0.0; 24];
            c[9..17].fill(1.5e9);
            c
        });
        assert!(!agree(&[&burst, &night, &films], &base, 2e8));
        // The new app, but one of the days with a burst of its own on top.
        let mut calls_and_burst = calls.clone();
        calls_and_burst[2]
            .apps
            .insert("Dropbox".into(), burst.apps["Dropbox"]);
        assert!(!agree(
            &calls_and_burst.iter().collect::<Vec<_>>(),
            &base,
            2e8
        ));
        // One day is no evidence.
        assert!(!agree(&[&shifted[0]], &base, 2e8));
    }

    #[test]
    fn a_change_says_which_days_changed_and_since_when() {
        let c = RoutineChange {
            since: date(5, 4),
            kind: Some(DayKind::Workday),
            by: ChangedBy::Detected,
        };
        assert_eq!(
            c.sentence(),
            "Your weekdays look different since Mon 4 May; learning the new rhythm"
        );
        assert!(c.covers(DayKind::Workday) && !c.covers(DayKind::DayOff));
        let owner = RoutineChange {
            kind: None,
            by: ChangedBy::Owner,
            ..c
        };
        assert!(owner.covers(DayKind::DayOff));
        assert_eq!(
            owner.sentence(),
            "New normal from Mon 4 May: learning the new rhythm"
        );
    }
}
