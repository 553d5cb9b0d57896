//! Which days a day is judged against: the last N complete days of the same
//! kind (workday or day off) before it, leaving out days already judged
//! anomalous unless the owner marked them normal, so one bad day cannot
//! teach the model that bad is normal.

use std::collections::{BTreeMap, BTreeSet};

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

/// What earlier verdicts say about the days a baseline is chosen from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Marks {
    /// Judged anomalous and not marked normal: never chosen.
    pub anomalous: BTreeSet<NaiveDate>,
    /// Unusual by the model but too small (or only less use) to be an
    /// alarm: chosen only when too few other days are there, so a holiday
    /// or a quiet week does not become the rhythm the next day is held to,
    /// while a lasting drop is learnt once it is all there is.
    pub quiet: BTreeSet<NaiveDate>,
    /// The first day of the current routine: days before it are not chosen.
    pub since: Option<NaiveDate>,
    /// Days judged as the other kind than their date's (a public holiday
    /// judged as a day off, a Saturday of work as a workday).
    pub kinds: BTreeMap<NaiveDate, DayKind>,
}

impl Marks {
    /// The kind of `day`: as it was judged, else as its date says.
    pub fn kind_of(&self, day: NaiveDate, rules: &BaselineRules) -> DayKind {
        self.kinds
            .get(&day)
            .copied()
            .unwrap_or_else(|| day_kind(day, &rules.work_week))
    }
}

/// Picks the baseline of `target` from `history` (any order): the latest
/// N days of its kind, as [`Marks`] says.
pub fn select<'a>(
    history: &'a [DayUsage],
    target: NaiveDate,
    rules: &BaselineRules,
    marks: &Marks,
) -> Baseline<'a> {
    select_as(
        history,
        target,
        day_kind(target, &rules.work_week),
        rules,
        marks,
    )
}

/// Picks the baseline of `target` as a day of `kind`, whatever its date.
pub fn select_as<'a>(
    history: &'a [DayUsage],
    target: NaiveDate,
    kind: DayKind,
    rules: &BaselineRules,
    marks: &Marks,
) -> Baseline<'a> {
    let mut candidates: Vec<&DayUsage> = history
        .iter()
        .filter(|d| d.day < target && marks.kind_of(d.day, rules) == kind)
        .filter(|d| marks.since.is_none_or(|s| d.day >= s))
        .collect();
    candidates.sort_by_key(|d| std::cmp::Reverse(d.day));
    let mut b = Baseline {
        kind,
        days: Vec::new(),
        skipped_anomalous: Vec::new(),
        skipped_incomplete: 0,
    };
    let mut quiet = Vec::new();
    for d in candidates {
        if b.days.len() >= rules.days {
            break;
        }
        if d.uncollected_hours() > rules.max_uncollected_hours {
            b.skipped_incomplete += 1;
        } else if marks.anomalous.contains(&d.day) {
            b.skipped_anomalous.push(d.day);
        } else if marks.quiet.contains(&d.day) {
            quiet.push(d);
        } else {
            b.days.push(d);
        }
    }
    let room = rules.days.saturating_sub(b.days.len());
    b.days.extend(quiet.into_iter().take(room));
    b.days.sort_by_key(|d| d.day);
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
        let b = select(&h, monday, &rules, &Marks::default());
        assert_eq!(b.kind, DayKind::Workday);
        assert_eq!(b.days.len(), 14);
        assert!(b
            .dates()
            .iter()
            .all(|d| d.weekday().num_days_from_monday() < 5));
        assert_eq!(*b.dates().last().unwrap(), date(7, 3), "the Friday before");
        let sunday = date(7, 5);
        let b = select(&h, sunday, &rules, &Marks::default());
        assert_eq!(b.kind, DayKind::DayOff);
        assert_eq!(b.days.len(), 9, "nine weekend days before it");
        assert!(b.enough(&rules));
    }

    #[test]
    fn anomalous_days_stay_out_unless_marked_normal() {
        let h = history(date(6, 1), 35);
        let rules = BaselineRules::default();
        let bad = Marks {
            anomalous: [date(7, 2)].into(),
            ..Marks::default()
        };
        let b = select(&h, date(7, 6), &rules, &bad);
        assert!(!b.dates().contains(&date(7, 2)));
        assert_eq!(b.skipped_anomalous, vec![date(7, 2)]);
        assert_eq!(b.days.len(), 14, "an older day takes its place");
        // Marked normal: the caller no longer lists it as anomalous.
        let b = select(&h, date(7, 6), &rules, &Marks::default());
        assert!(b.dates().contains(&date(7, 2)));
    }

    #[test]
    fn a_new_routine_starts_the_baseline_on_its_first_day() {
        let h = history(date(6, 1), 35);
        let rules = BaselineRules::default();
        // A new routine from Wed 1 Jul: three workdays of it before Mon 6 Jul.
        let marks = Marks {
            since: Some(date(7, 1)),
            ..Marks::default()
        };
        let b = select(&h, date(7, 6), &rules, &marks);
        assert_eq!(b.dates(), vec![date(7, 1), date(7, 2), date(7, 3)]);
        assert!(!b.enough(&rules));
    }

    #[test]
    fn a_holiday_judged_as_a_day_off_joins_the_days_off() {
        let h = history(date(6, 1), 35);
        let rules = BaselineRules::default();
        let marks = Marks {
            kinds: [(date(7, 1), DayKind::DayOff)].into(),
            ..Marks::default()
        };
        let workdays = select(&h, date(7, 6), &rules, &marks);
        assert!(!workdays.dates().contains(&date(7, 1)));
        let days_off = select(&h, date(7, 5), &rules, &marks);
        assert!(days_off.dates().contains(&date(7, 1)));
        // A Thursday judged as a day off.
        let as_off = select_as(&h, date(7, 2), DayKind::DayOff, &rules, &marks);
        assert_eq!(as_off.dates().last(), Some(&date(7, 1)));
    }

    #[test]
    fn quiet_days_are_chosen_only_when_too_few_others_are_there() {
        let h = history(date(6, 1), 35);
        let rules = BaselineRules::default();
        // A quiet week (Mon 29 Jun - Fri 3 Jul) before Mon 6 Jul: the
        // fourteen workdays before it are chosen instead.
        let week: BTreeSet<NaiveDate> = (0..5).map(|i| date(6, 29) + Duration::days(i)).collect();
        let marks = Marks {
            quiet: week.clone(),
            ..Marks::default()
        };
        let b = select(&h, date(7, 6), &rules, &marks);
        assert_eq!(b.days.len(), 14);
        assert!(
            b.dates().iter().all(|d| !week.contains(d)),
            "{:?}",
            b.dates()
        );
        // Everything quiet for good: the quiet days are the baseline.
        let marks = Marks {
            quiet: h.iter().map(|d| d.day).collect(),
            ..Marks::default()
        };
        let b = select(&h, date(7, 6), &rules, &marks);
        assert_eq!(b.days.len(), 14);
        assert_eq!(b.dates().last(), Some(&date(7, 3)));
    }

    #[test]
    fn too_few_days_is_learning_and_gappy_days_are_left_out() {
        let mut h = history(date(6, 1), 8);
        h[1].uncollected = [true; 24];
        let rules = BaselineRules::default();
        // Six workdays before Tue 9 Jun, one of them not watched.
        let b = select(&h, date(6, 9), &rules, &Marks::default());
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
