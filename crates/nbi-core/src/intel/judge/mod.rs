//! Judging one day, as named steps:
//!
//! 1. `case`: load the day, the hours judged, its kind, and the history
//!    it is judged against with what earlier verdicts said of it;
//! 2. `gate`: too little of it watched, or still learning;
//! 3. `reading`: read the signals (the model's error, uploads, bursts
//!    beyond the envelope, and what is new: `novelty`) into findings
//!    under one overlap policy;
//! 4. `second_look`: only for an alarm, the other kind of day, back to
//!    the usual rhythm, or a new routine, the first that applies;
//! 5. `conclude`: the status set once, the wording in one place.

mod case;
mod conclude;
mod gate;
mod novelty;
mod places;
mod reading;
mod second_look;
#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::intel::config::IntelConfig;
use crate::intel::error::IntelError;
use crate::store::timeline::local_day_hour;
use crate::store::{UsageQuery, VerdictStore};
use case::Case;
use conclude::{conclude, Outcome};
use gate::{gate, Gate};

pub(crate) use case::{Loaded, Said};
pub use conclude::Judged;

/// Judges local day `day` of `host` against its baseline.
///
/// Days judged anomalous stay out of later baselines; when the day and the
/// [`crate::intel::routine::EVIDENCE_DAYS`]` - 1` days of its kind before it
/// were all unusual and agree with each other, they are a new routine: the
/// verdict is normal, carries the change (announced once) and later
/// baselines start on its first day.
///
/// # Errors
/// Invalid settings, store errors, a model that cannot be trained.
pub fn judge<S: UsageQuery + VerdictStore + ?Sized>(
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
///
/// # Errors
/// As [`judge`].
pub fn judge_so_far<S: UsageQuery + VerdictStore + ?Sized>(
    store: &S,
    host: &str,
    now: DateTime<Utc>,
    tz: Tz,
    config: &IntelConfig,
) -> Result<Option<Judged>, IntelError> {
    let (day, hour) = local_day_hour(now, tz);
    if hour == 0 {
        return Ok(None);
    }
    judge_hours(store, host, day, tz, config, Some(hour)).map(Some)
}

/// The steps, in order.
fn judge_hours<S: UsageQuery + VerdictStore + ?Sized>(
    store: &S,
    host: &str,
    day: NaiveDate,
    tz: Tz,
    config: &IntelConfig,
    until: Option<u8>,
) -> Result<Judged, IntelError> {
    config.validate().map_err(IntelError::Invalid)?;
    let mut case = Case::load(store, host, day, tz, until, config.rules())?;
    case.new = novelty::find(store, host, &case, tz, config)?;
    let (baseline, young) = match gate(&case, config.max_uncollected_hours) {
        Gate::TooLittleData => {
            return Ok(conclude(&case, None, None, Outcome::TooLittleData, config))
        }
        Gate::Learning { baseline, need } => {
            let outcome = Outcome::Learning {
                need,
                relearning: case.relearning(),
            };
            return Ok(conclude(&case, Some(&baseline), None, outcome, config));
        }
        Gate::Open { baseline, young } => (baseline, young),
    };
    let target = case.target_against(&baseline.days);
    let reading = reading::read(&target, &baseline.days, young, &case.new, config)?;
    let let_off = match reading.alarm() {
        true => second_look::look(&case, &baseline, young, config)?,
        false => None,
    };
    let outcome = Outcome::of(&reading, young, let_off);
    Ok(conclude(
        &case,
        Some(&baseline),
        Some(reading),
        outcome,
        config,
    ))
}
