//! Step four: a second look, only at a day the signals found unusual. The
//! first of these that applies lets it off:
//! 1. it is usual for the other kind of day (a public holiday is a day
//!    off; a Saturday of work a workday);
//! 2. the young routine in force was passing, and the day fits the one
//!    before it (back from a week abroad);
//! 3. it and the days of its kind just before it share one lasting change:
//!    a new routine, learnt from here on.

use chrono::NaiveDate;

use super::case::Case;
use super::reading::{read, view_of, ByApp};
use crate::intel::baseline::{day_kind, Baseline, DayKind};
use crate::intel::config::IntelConfig;
use crate::intel::detector::Judgement;
use crate::intel::error::IntelError;
use crate::intel::matrix::DayUsage;
use crate::intel::routine::{self, EVIDENCE_DAYS};

/// Why an unusual day is no alarm after all.
pub(crate) enum LetOff {
    /// Usual for the other kind of day, judged as it: `judgement` is that
    /// kind's model's.
    OtherKind { kind: DayKind, judgement: Judgement },
    /// The young routine that began on `since` was passing: back to the
    /// one before it.
    BackToUsual { since: NaiveDate },
    /// A lasting change of routine since `since`, learnt from here on.
    NewRoutine { since: NaiveDate },
}

/// The second look at an unusual `case`, judged against `baseline` (a
/// `young` routine's when `young`).
///
/// # Errors
/// A model that cannot be trained or applied.
pub(crate) fn look(
    case: &Case,
    baseline: &Baseline<'_>,
    young: bool,
    config: &IntelConfig,
) -> Result<Option<LetOff>, IntelError> {
    let other = match case.kind {
        DayKind::Workday => DayKind::DayOff,
        DayKind::DayOff => DayKind::Workday,
    };
    let base = case.loaded.select_as(case.day, other, &case.rules);
    if let Some(judgement) = usual_for(case, &base, config)? {
        tracing::info!(day = %case.day, kind = ?other, "unusual for its kind of day, usual for the other");
        return Ok(Some(LetOff::OtherKind {
            kind: other,
            judgement,
        }));
    }
    if young {
        if let Some((since, before)) = case.loaded.select_before_young(case.day, &case.rules) {
            if usual_for(case, &before, config)?.is_some() {
                tracing::info!(day = %case.day, %since, "the routine since then was passing: back to the one before");
                return Ok(Some(LetOff::BackToUsual { since }));
            }
        }
    }
    if case.until.is_none() {
        if let Some(since) = new_routine(case, &baseline.days, config) {
            tracing::info!(day = %case.day, %since, kind = ?case.kind, "a lasting change of routine: learning it");
            return Ok(Some(LetOff::NewRoutine { since }));
        }
    }
    Ok(None)
}

/// How the case's day is judged against another baseline than its own,
/// when it is usual there. `None` when it is not, or `base` is too small to
/// say. Usual means it passes every signal against `base`: within its
/// envelope (its total no more than the byte floor above the largest of
/// its days', its app-hours together no more than the floor above the
/// most each moved on any of them: see [`crate::intel::envelope::within`]),
/// and no finding of the model, the uploads or the bursts. The envelope
/// rules a day out without training a model.
fn usual_for(
    case: &Case,
    base: &Baseline<'_>,
    config: &IntelConfig,
) -> Result<Option<Judgement>, IntelError> {
    if !base.enough(&case.rules) {
        return Ok(None);
    }
    let floor = config.min_change_bytes.0 as f64;
    let target = case.target_against(&base.days);
    let view = view_of(config);
    if !ByApp::new(&view, &target, &base.days).within(case.hours(), floor) {
        return Ok(None);
    }
    let reading = read(&target, &base.days, false, &case.new, config)?;
    Ok(match reading.alarm() {
        true => None,
        false => reading.model.map(|m| m.judgement),
    })
}

/// When the case's day and the days of its kind just before it were all
/// judged unusual and agree with each other (see [`routine::agree`]): the
/// first of them, where the new routine starts.
fn new_routine(case: &Case, baseline: &[&DayUsage], config: &IntelConfig) -> Option<NaiveDate> {
    let rules = &case.rules;
    let since = case.loaded.since(case.kind);
    let mut evidence: Vec<&DayUsage> = case
        .loaded
        .history
        .iter()
        .rev()
        .filter(|d| d.day < case.day && day_kind(d.day, &rules.work_week) == case.kind)
        .filter(|d| since.is_none_or(|s| d.day >= s))
        .filter(|d| d.uncollected_hours() <= rules.max_uncollected_hours)
        .take(EVIDENCE_DAYS - 1)
        .collect();
    if evidence.len() + 1 < EVIDENCE_DAYS
        || !evidence
            .iter()
            .all(|d| case.loaded.anomalous.contains(&d.day))
    {
        return None;
    }
    evidence.reverse();
    evidence.push(&case.target);
    let floor = config.min_change_bytes.0 as f64;
    routine::agree(&evidence, baseline, floor).then(|| evidence[0].day)
}
