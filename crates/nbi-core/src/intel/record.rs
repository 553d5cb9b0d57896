//! Verdicts as the store keeps them: judged and stored, recorded as
//! failed, judged again with their saved model, and the owner's "this is my
//! new normal".

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::baseline::day_kind;
use super::config::IntelConfig;
use super::detector::{Detector, Judgement, ModelMeta};
use super::error::IntelError;
use super::judge::{judge, Judged, Said};
use super::matrix;
use super::routine::{ChangedBy, RoutineChange};
use super::verdict::Verdict;
use crate::store::connections::Loan;
use crate::store::{HostFilter, Store, StoreError, UsageQuery, VerdictRecord, VerdictStore};

/// The last local day that has ended at `now`.
pub fn last_complete_day(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let today = now.with_timezone(&tz).date_naive();
    today.pred_opt().unwrap_or(today)
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

/// Where judging reads, and where its verdicts go: one store, or in a
/// running process a reader lent from the pool with the one writer (see
/// [`Loan`]), so that judging never holds the write lock while it reads.
pub trait Keeper {
    type Reader: UsageQuery + VerdictStore + ?Sized;

    /// Usage and earlier verdicts.
    fn reader(&self) -> &Self::Reader;

    /// Stores a verdict, replacing the day's (an owner's mark is kept).
    fn keep(&mut self, record: &VerdictRecord) -> Result<(), StoreError>;
}

impl<S: Store + ?Sized> Keeper for S {
    type Reader = S;

    fn reader(&self) -> &S {
        self
    }

    fn keep(&mut self, record: &VerdictRecord) -> Result<(), StoreError> {
        self.put_verdict(record)
    }
}

impl Keeper for Loan<'_> {
    type Reader = dyn Store;

    fn reader(&self) -> &dyn Store {
        Loan::reader(self)
    }

    fn keep(&mut self, record: &VerdictRecord) -> Result<(), StoreError> {
        self.writer.lock().put_verdict(record)
    }
}

/// Judges a day and stores the verdict with its model.
///
/// # Errors
/// As [`judge`], and a verdict that cannot be stored.
pub fn judge_and_store<J: Keeper + ?Sized>(
    store: &mut J,
    host: &str,
    day: NaiveDate,
    tz: Tz,
    config: &IntelConfig,
    now: DateTime<Utc>,
) -> Result<Verdict, IntelError> {
    let mut judged = judge(store.reader(), host, day, tz, config)?;
    // The owner's new normal starting on this day outlives judging it again.
    let owners = store
        .reader()
        .verdict(host, day)?
        .and_then(|r| Said::of(&r).routine)
        .filter(|r| r.by == ChangedBy::Owner);
    if owners.is_some() {
        judged.verdict.routine = owners;
    }
    store.keep(&judged.record(host, now)?)?;
    Ok(judged.verdict)
}

/// Records that `day` could not be judged, and why: a verdict of status
/// [`crate::intel::status::Status::Failed`] whose summary holds the reason, so the schedule moves
/// on and the owner sees it. Returns it.
pub fn store_failure<J: Keeper + ?Sized>(
    store: &mut J,
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
    store.keep(&judged.record(host, now)?)?;
    Ok(judged.verdict)
}

/// Judges a stored verdict's day again with the model saved with it.
pub fn recheck<S: UsageQuery + ?Sized>(
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
