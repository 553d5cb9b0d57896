//! Step two: the gate. A day is judged only when enough of it was watched
//! and its baseline has enough days; a new routine is judged once its
//! evidence days are there, by its envelope until a model can learn it.

use super::case::Case;
use crate::intel::baseline::Baseline;
use crate::intel::routine::EVIDENCE_DAYS;

/// Whether, and how, a case is judged.
pub(crate) enum Gate<'c> {
    /// More unwatched hours than `max_uncollected_hours`: not judged.
    TooLittleData,
    /// Fewer baseline days than needed: still learning.
    Learning { baseline: Baseline<'c>, need: usize },
    /// Judged against `baseline`. `young`: a routine with fewer days than
    /// a model needs, so only what is far beyond its envelope is unusual.
    Open { baseline: Baseline<'c>, young: bool },
}

/// Opens (or not) the case for judging.
pub(crate) fn gate(case: &Case, max_uncollected_hours: u32) -> Gate<'_> {
    if case.uncollected > max_uncollected_hours {
        tracing::info!(day = %case.day, hours = case.uncollected, "not judged: too little data");
        return Gate::TooLittleData;
    }
    let baseline = case.baseline();
    let min_days = case.rules.min_days;
    // Waiting for a full week of a new routine would leave the owner
    // unwatched meanwhile.
    let need = match case.relearning() {
        true => min_days.min(EVIDENCE_DAYS),
        false => min_days,
    };
    if baseline.days.len() < need {
        tracing::info!(day = %case.day, days = baseline.days.len(), "learning");
        return Gate::Learning { baseline, need };
    }
    let young = baseline.days.len() < min_days;
    Gate::Open { baseline, young }
}
