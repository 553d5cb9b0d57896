//! Step one: the case. The day, the hours of it judged, its kind, and the
//! days its baseline is chosen from with what earlier verdicts said of
//! them (days left out, quiet days, days judged as the other kind, changes
//! of routine).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::intel::baseline::{self, day_kind, Baseline, BaselineRules, DayKind, Marks};
use crate::intel::error::IntelError;
use crate::intel::matrix::{self, median_day, DayUsage};
use crate::intel::routine::RoutineChange;
use crate::intel::status::Status;
use crate::intel::verdict::Explanation;
use crate::store::{HostFilter, HourlyDestination, UsageQuery, VerdictRecord, VerdictStore};

/// What a day is judged on.
pub(crate) struct Case {
    pub day: NaiveDate,
    /// Same-day judging: only the local hours `0..until` have happened.
    pub until: Option<u8>,
    /// The kind of day its date makes it.
    pub kind: DayKind,
    /// The day's hours (gaps filled from earlier days).
    pub target: DayUsage,
    /// Hours among those judged that were not watched.
    pub uncollected: u32,
    pub loaded: Loaded,
    pub rules: BaselineRules,
    /// Where the day's bytes went, per local hour and app (what names an
    /// explanation's destinations).
    pub places: Vec<HourlyDestination>,
    /// What is new on the day (see `novelty`), found once it is loaded.
    pub new: Vec<Explanation>,
}

impl Case {
    /// Loads local `day` of `host` (its hours `0..until`, or all of it).
    ///
    /// # Errors
    /// Store errors; [`IntelError::Invalid`] when the day is not in the
    /// store's range at all.
    pub fn load<S: UsageQuery + VerdictStore + ?Sized>(
        store: &S,
        host: &str,
        day: NaiveDate,
        tz: Tz,
        until: Option<u8>,
        rules: BaselineRules,
    ) -> Result<Case, IntelError> {
        let loaded = Loaded::load(store, host, day, tz, &rules)?;
        let target = loaded
            .history
            .iter()
            .find(|d| d.day == day)
            .cloned()
            .ok_or_else(|| IntelError::Invalid(format!("no day {day} in the loaded range")))?;
        let hours = usize::from(until.unwrap_or(24)).min(24);
        let uncollected = target.uncollected[..hours].iter().filter(|u| **u).count() as u32;
        let places = store
            .hourly_destinations(&HostFilter::One(host.to_string()), day, day, tz)?
            .into_iter()
            .filter(|p| p.day == day && usize::from(p.hour) < hours)
            .collect();
        Ok(Case {
            day,
            until,
            kind: day_kind(day, &rules.work_week),
            target,
            uncollected,
            loaded,
            rules,
            places,
            new: Vec::new(),
        })
    }

    /// How many local hours are judged (24 for a whole day).
    pub fn hours(&self) -> usize {
        usize::from(self.until.unwrap_or(24)).min(24)
    }

    /// Whether local hour `h` is judged and was watched.
    pub fn counts(&self, h: usize) -> bool {
        h < self.hours() && !self.target.uncollected.get(h).copied().unwrap_or(true)
    }

    /// The day's own baseline: of its kind, from the routine in force on.
    pub fn baseline(&self) -> Baseline<'_> {
        self.loaded.select_as(self.day, self.kind, &self.rules)
    }

    /// Whether a change of routine of this kind is in force (its days are
    /// learnt afresh).
    pub fn relearning(&self) -> bool {
        self.loaded.since(self.kind).is_some()
    }

    /// The day as judged against `baseline`: for a day so far, the hours
    /// still to come count as that baseline's median (marked not seen, so
    /// no signal looks at them).
    pub fn target_against(&self, baseline: &[&DayUsage]) -> DayUsage {
        let mut target = self.target.clone();
        if self.until.is_some() {
            let typical = median_day(target.day, baseline);
            for h in self.hours()..24 {
                target.uncollected[h] = true;
                for cells in target.apps.values_mut().chain(target.out.values_mut()) {
                    cells[h] = 0.0;
                }
                for (app, cells) in &typical.apps {
                    target.apps.entry(app.clone()).or_insert([0.0; 24])[h] = cells[h];
                }
                for (app, cells) in &typical.out {
                    target.out.entry(app.clone()).or_insert([0.0; 24])[h] = cells[h];
                }
            }
        }
        target
    }
}

/// The days a day's baseline is chosen from, and what the verdicts before
/// it say about them.
pub(crate) struct Loaded {
    /// The days of the look-back window up to the day itself (gaps filled).
    pub history: Vec<DayUsage>,
    /// Days judged anomalous, not marked normal and not the evidence of a
    /// change of routine: left out of baselines.
    pub anomalous: BTreeSet<NaiveDate>,
    /// Days the model found unusual but too small to matter (see
    /// [`Marks::quiet`]).
    pub quiet: BTreeSet<NaiveDate>,
    /// The latest change of routine in the window, and the day of the
    /// verdict that holds it.
    pub change: Option<(RoutineChange, NaiveDate)>,
    /// The change in force before `change`, if any.
    pub previous: Option<(RoutineChange, NaiveDate)>,
    /// Days judged as the other kind than their date's.
    pub kinds: BTreeMap<NaiveDate, DayKind>,
}

impl Loaded {
    /// The days up to `day` that its baseline is chosen from (gaps filled),
    /// and what the verdicts of those days say.
    pub fn load<S: UsageQuery + VerdictStore + ?Sized>(
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
        // The changes of routine of this kind in force, oldest first; a
        // change found passing is taken off, and its days left out.
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

    /// The first day of the routine in force for days of `kind`.
    pub fn since(&self, kind: DayKind) -> Option<NaiveDate> {
        self.change
            .filter(|(c, _)| c.covers(kind))
            .map(|(c, _)| c.since)
    }

    /// The baseline of `day` as a day of `kind`, from the routine in force
    /// for that kind on.
    pub fn select_as(&self, day: NaiveDate, kind: DayKind, rules: &BaselineRules) -> Baseline<'_> {
        let marks = Marks {
            anomalous: self.anomalous.clone(),
            quiet: self.quiet.clone(),
            since: self.since(kind),
            kinds: self.kinds.clone(),
        };
        baseline::select_as(&self.history, day, kind, rules, &marks)
    }

    /// The baseline of `day` under the routine before the young one in
    /// force: the young routine's days left out, from the change before it
    /// on. `None` when no change is in force.
    pub fn select_before_young(
        &self,
        day: NaiveDate,
        rules: &BaselineRules,
    ) -> Option<(NaiveDate, Baseline<'_>)> {
        let (young, _) = self.change?;
        let kind = day_kind(day, &rules.work_week);
        let mut anomalous = self.anomalous.clone();
        anomalous.extend(
            self.history
                .iter()
                .map(|d| d.day)
                .filter(|d| *d >= young.since && *d < day),
        );
        let marks = Marks {
            anomalous,
            quiet: self.quiet.clone(),
            since: self
                .previous
                .filter(|(c, _)| c.covers(kind))
                .map(|(c, _)| c.since),
            kinds: self.kinds.clone(),
        };
        Some((
            young.since,
            baseline::select_as(&self.history, day, kind, rules, &marks),
        ))
    }
}

/// What a stored verdict says beyond its status: the change of routine it
/// holds and whether the day was quiet (a verdict that does not parse says
/// neither).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Said {
    #[serde(default)]
    pub routine: Option<RoutineChange>,
    #[serde(default)]
    pub quiet: bool,
    #[serde(default)]
    pub day_kind: Option<DayKind>,
    #[serde(default)]
    pub routine_ended: Option<NaiveDate>,
}

impl Said {
    pub fn of(record: &VerdictRecord) -> Said {
        serde_json::from_str(&record.verdict_json).unwrap_or_default()
    }
}
