//! Which days a day is judged against: the last N complete days of the same
//! kind (workday or day off) before it, leaving out days already judged
//! anomalous unless the owner marked them normal, so one bad day cannot
//! teach the model that bad is normal.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::matrix::DayUsage;

/// Workdays and days off have separate baselines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    Workday,
    DayOff,
}

pub fn day_kind(day: NaiveDate, work_week: &[Weekday]) -> DayKind {
    if work_week.contains(&day.weekday()) {
        DayKind::Workday
    } else {
        DayKind::DayOff
    }
}

/// The rules of baseline selection.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineRules {
    /// N: baseline days wanted.
    pub days: usize,
    /// Fewer usable days than this: still learning.
    pub min_days: usize,
    /// A day with more unwatched hours than this is not used.
    pub max_uncollected_hours: u32,
    pub work_week: Vec<Weekday>,
}

impl Default for BaselineRules {
    fn default() -> Self {
        BaselineRules {
            days: 14,
            min_days: 7,
            max_uncollected_hours: 4,
            work_week: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
        }
    }
}

impl BaselineRules {
    /// How many calendar days back N days of `kind` may reach, with room
    /// for days left out.
    pub fn lookback(&self, kind: DayKind) -> i64 {
        let of_kind = (0..7)
            .filter_map(|d| Weekday::try_from(d as u8).ok())
            .filter(|w| (self.work_week.contains(w)) == (kind == DayKind::Workday))
            .count()
            .max(1);
        let n = self.days as i64;
        let k = of_kind as i64;
        (n * 7 + k - 1) / k + n
    }
}

/// The days chosen, and what was left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline<'a> {
    pub kind: DayKind,
    /// In date order.
    pub days: Vec<&'a DayUsage>,
    /// Days of the kind left out as judged anomalous.
    pub skipped_anomalous: Vec<NaiveDate>,
    /// Days of the kind left out as not watched enough.
    pub skipped_incomplete: usize,
}

impl Baseline<'_> {
    pub fn dates(&self) -> Vec<NaiveDate> {
        self.days.iter().map(|d| d.day).collect()
    }

    pub fn enough(&self, rules: &BaselineRules) -> bool {
        self.days.len() >= rules.min_days
    }
}

/// Picks the baseline of `target` from `history` (any order). `anomalous`
/// holds the days judged anomalous and not marked normal.
pub fn select<'a>(
    history: &'a [DayUsage],
    target: NaiveDate,
    rules: &BaselineRules,
    anomalous: &BTreeSet<NaiveDate>,
) -> Baseline<'a> {
    let kind = day_kind(target, &rules.work_week);
    let mut candidates: Vec<&DayUsage> = history
        .iter()
        .filter(|d| d.day < target && day_kind(d.day, &rules.work_week) == kind)
        .collect();
    candidates.sort_by_key(|d| std::cmp::Reverse(d.day));
    let mut b = Baseline {
        kind,
        days: Vec::new(),
        skipped_anomalous: Vec::new(),
        skipped_incomplete: 0,
    };
    for d in candidates {
        if b.days.len() >= rules.days {
            break;
        }
        if d.uncollected_hours() > rules.max_uncollected_hours {
            b.skipped_incomplete += 1;
        } else if anomalous.contains(&d.day) {
            b.skipped_anomalous.push(d.day);
        } else {
            b.days.push(d);
        }
    }
    b.days.reverse();
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn history(from: NaiveDate, n: i64) -> Vec<DayUsage> {
        (0..n)
            .map(|i| DayUsage::complete(from + Duration::days(i), [("A".to_string(), [1.0; 24])]))
            .collect()
    }

    fn date(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    #[test]
    fn workdays_and_days_off_learn_apart() {
        // 2026-06-01 is a Monday; five weeks of days.
        let h = history(date(6, 1), 35);
        let rules = BaselineRules::default();
        let monday = date(7, 6);
        let b = select(&h, monday, &rules, &BTreeSet::new());
        assert_eq!(b.kind, DayKind::Workday);
        assert_eq!(b.days.len(), 14);
        assert!(b
            .dates()
            .iter()
            .all(|d| d.weekday().num_days_from_monday() < 5));
        assert_eq!(*b.dates().last().unwrap(), date(7, 3), "the Friday before");
        let sunday = date(7, 5);
        let b = select(&h, sunday, &rules, &BTreeSet::new());
        assert_eq!(b.kind, DayKind::DayOff);
        assert_eq!(b.days.len(), 9, "nine weekend days before it");
        assert!(b.enough(&rules));
    }

    #[test]
    fn anomalous_days_stay_out_unless_marked_normal() {
        let h = history(date(6, 1), 35);
        let rules = BaselineRules::default();
        let bad: BTreeSet<NaiveDate> = [date(7, 2)].into();
        let b = select(&h, date(7, 6), &rules, &bad);
        assert!(!b.dates().contains(&date(7, 2)));
        assert_eq!(b.skipped_anomalous, vec![date(7, 2)]);
        assert_eq!(b.days.len(), 14, "an older day takes its place");
        // Marked normal: the caller no longer lists it as anomalous.
        let b = select(&h, date(7, 6), &rules, &BTreeSet::new());
        assert!(b.dates().contains(&date(7, 2)));
    }

    #[test]
    fn too_few_days_is_learning_and_gappy_days_are_left_out() {
        let mut h = history(date(6, 1), 8);
        h[1].uncollected = [true; 24];
        let rules = BaselineRules::default();
        // Six workdays before Tue 9 Jun, one of them not watched.
        let b = select(&h, date(6, 9), &rules, &BTreeSet::new());
        assert_eq!(b.days.len(), 5);
        assert_eq!(b.skipped_incomplete, 1);
        assert!(!b.enough(&rules));
        // A custom work week: Sunday–Thursday.
        let rules = BaselineRules {
            work_week: vec![
                Weekday::Sun,
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
            ],
            ..BaselineRules::default()
        };
        assert_eq!(
            day_kind(date(6, 5), &rules.work_week),
            DayKind::DayOff,
            "a Friday"
        );
        assert_eq!(rules.lookback(DayKind::DayOff), 49 + 14);
        assert_eq!(rules.lookback(DayKind::Workday), 20 + 14);
    }
}
