//! Step five: the conclusion. What the steps before found becomes one
//! [`Outcome`], which sets the verdict's status once and says it in words
//! (every summary a verdict can have is written here).

use super::case::Case;
use super::reading::{Dismissed, Reading};
use super::second_look::LetOff;
use crate::intel::baseline::{Baseline, DayKind};
use crate::intel::config::IntelConfig;
use crate::intel::detector::Detector;
use crate::intel::error::IntelError;
use crate::intel::routine::{ChangedBy, RoutineChange};
use crate::intel::status::Status;
use crate::intel::verdict::{short_day, Verdict};
use crate::store::VerdictRecord;
use chrono::{DateTime, Utc};

/// How a day came out, and why.
pub(crate) enum Outcome {
    /// More of it was not watched than allowed.
    TooLittleData,
    /// Its baseline has fewer than the `need` days it takes (`relearning`:
    /// of a new routine).
    Learning { need: usize, relearning: bool },
    /// Unusual: the findings explain it.
    Unusual,
    /// Nothing found.
    Usual,
    /// A young routine's day inside its envelope.
    YoungUsual,
    /// The model flagged it, but no finding is news.
    Dismissed(Dismissed),
    /// Unusual at first, let off by the second look.
    LetOff(LetOff),
}

impl Outcome {
    /// What the steps found: the reading (with no alarm, or one let off).
    pub fn of(reading: &Reading, young: bool, let_off: Option<LetOff>) -> Outcome {
        match (reading.alarm(), let_off, reading.dismissed) {
            (true, Some(l), _) => Outcome::LetOff(l),
            (true, None, _) => Outcome::Unusual,
            (false, _, Some(d)) => Outcome::Dismissed(d),
            (false, _, None) if young => Outcome::YoungUsual,
            (false, _, None) => Outcome::Usual,
        }
    }

    fn status(&self) -> Status {
        match self {
            Outcome::TooLittleData => Status::InsufficientData,
            Outcome::Learning { .. } => Status::Learning,
            Outcome::Unusual => Status::Anomalous,
            Outcome::Usual | Outcome::YoungUsual | Outcome::Dismissed(_) | Outcome::LetOff(_) => {
                Status::Normal
            }
        }
    }
}

/// The verdict on `case`: `baseline` is what it was judged against (none
/// when it was not judged), `reading` what the signals found.
pub(crate) fn conclude(
    case: &Case,
    baseline: Option<&Baseline<'_>>,
    reading: Option<Reading>,
    outcome: Outcome,
    config: &IntelConfig,
) -> Judged {
    let mut verdict = Verdict {
        day: case.day,
        status: outcome.status(),
        error: None,
        threshold: None,
        baseline_days: baseline.map_or(0, |b| b.days.len()),
        baseline: baseline.map(Baseline::dates).unwrap_or_default(),
        day_kind: case.kind,
        apps: Vec::new(),
        explanation: Vec::new(),
        uncollected_hours: case.uncollected,
        model: config.model,
        summary: String::new(),
        routine: None,
        routine_ended: None,
        hours_judged: case.until,
        quiet: matches!(
            outcome,
            Outcome::Dismissed(Dismissed::Small { .. } | Dismissed::Less)
        ),
    };
    let mut detector = None;
    if let Some(reading) = reading {
        if let Some(m) = reading.model {
            verdict.error = Some(m.judgement.error);
            verdict.threshold = Some(m.judgement.threshold);
            verdict.apps = m.detector.meta.columns.names.clone();
            detector = Some(m.detector);
        }
        if matches!(outcome, Outcome::Unusual) {
            verdict.explanation = reading.findings.into_iter().map(|f| f.run).collect();
            super::places::name_runs(
                &mut verdict.explanation,
                &case.places,
                &super::reading::view_of(config),
                &config.names,
            );
        }
    }
    match &outcome {
        Outcome::LetOff(LetOff::OtherKind { kind, judgement }) => {
            verdict.day_kind = *kind;
            verdict.error = Some(judgement.error);
            verdict.threshold = Some(judgement.threshold);
        }
        Outcome::LetOff(LetOff::BackToUsual { since }) if case.until.is_none() => {
            verdict.routine_ended = Some(*since);
        }
        Outcome::LetOff(LetOff::NewRoutine { since }) => {
            verdict.routine = Some(RoutineChange {
                since: *since,
                kind: Some(case.kind),
                by: ChangedBy::Detected,
            });
        }
        _ => {}
    }
    verdict.summary = summary(&verdict, &outcome, config);
    tracing::info!(day = %case.day, status = %verdict.status, error = ?verdict.error, threshold = ?verdict.threshold, "judged");
    Judged { verdict, detector }
}

/// The one-line summary of a verdict reached as `outcome` says.
fn summary(v: &Verdict, outcome: &Outcome, config: &IntelConfig) -> String {
    let day = match v.hours_judged {
        Some(h) => format!("{} until {h:02}:00", short_day(v.day)),
        None => short_day(v.day),
    };
    match outcome {
        Outcome::TooLittleData => format!(
            "{day}: not judged, {} h not collected (at most {} h)",
            v.uncollected_hours, config.max_uncollected_hours
        ),
        Outcome::Learning {
            need,
            relearning: true,
        } => format!(
            "{day}: learning the new rhythm, {} of {need} days",
            v.baseline_days
        ),
        Outcome::Learning { need, .. } => {
            format!("{day}: learning, {} of {need} days", v.baseline_days)
        }
        Outcome::Unusual => {
            let parts: Vec<String> = v.explanation.iter().take(2).map(|e| e.sentence()).collect();
            match parts.is_empty() {
                true => format!("{day}: unusual network use"),
                false => format!("{day}: {}", parts.join("; ")),
            }
        }
        Outcome::Usual => format!("{day}: normal"),
        Outcome::YoungUsual => format!(
            "{day}: normal (learning the new rhythm, {} of {} days)",
            v.baseline_days, config.min_baseline_days
        ),
        Outcome::Dismissed(Dismissed::Small { above }) => format!(
            "{day}: normal; only {} more than the typical day (an alarm needs {})",
            crate::human::bytes(*above as u64),
            crate::human::bytes(config.min_change_bytes.0)
        ),
        Outcome::Dismissed(Dismissed::Less) => {
            format!("{day}: normal; less than the typical day")
        }
        Outcome::Dismissed(Dismissed::Seen { on }) => format!(
            "{day}: normal; the hours that stood out moved as much on {}",
            short_day(*on)
        ),
        Outcome::LetOff(LetOff::OtherKind { kind, .. }) => format!(
            "{day}: normal for a {}",
            match kind {
                DayKind::Workday => "workday",
                DayKind::DayOff => "day off",
            }
        ),
        Outcome::LetOff(LetOff::BackToUsual { .. }) => format!("{day}: back to the usual rhythm"),
        Outcome::LetOff(LetOff::NewRoutine { .. }) => match &v.routine {
            Some(r) => format!("{day}: {}", r.sentence()),
            None => format!("{day}: normal"),
        },
    }
}

/// A verdict and the model that reached it (none for days not judged).
pub struct Judged {
    pub verdict: Verdict,
    pub detector: Option<Detector>,
}

impl Judged {
    /// The verdict as the store keeps it, with the model (safetensors) and
    /// its scale, threshold and columns (JSON).
    pub fn record(
        &self,
        host: &str,
        judged_at: DateTime<Utc>,
    ) -> Result<VerdictRecord, IntelError> {
        let json = |v: &dyn erased::Json| v.json();
        let (model, model_meta) = match &self.detector {
            Some(d) => (Some(d.to_safetensors()?), Some(json(&d.meta)?)),
            None => (None, None),
        };
        Ok(VerdictRecord {
            host: host.to_string(),
            day: self.verdict.day,
            status: self.verdict.status,
            judged_at,
            verdict_json: json(&self.verdict)?,
            model,
            model_meta,
            marked_normal: false,
        })
    }
}

mod erased {
    use crate::intel::error::IntelError;

    /// JSON of anything serializable, with our error.
    pub trait Json {
        fn json(&self) -> Result<String, IntelError>;
    }

    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> Result<String, IntelError> {
            serde_json::to_string(self).map_err(|e| IntelError::Invalid(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::detector::ModelKind;
    use crate::intel::verdict::Explanation;
    use chrono::NaiveDate;

    fn unusual() -> Verdict {
        let run = |app: &str, from: u8, bytes: u64, typical: u64| Explanation {
            app: app.into(),
            from_hour: from,
            to_hour: from + if app == "Slack" { 1 } else { 2 },
            bytes,
            typical_bytes: typical,
            direction: None,
            destinations: Vec::new(),
            new: None,
        };
        Verdict {
            day: NaiveDate::from_ymd_opt(2026, 7, 14).unwrap(),
            status: Status::Anomalous,
            error: Some(0.1),
            threshold: Some(0.05),
            baseline_days: 14,
            baseline: vec![],
            day_kind: DayKind::Workday,
            apps: vec!["Slack".into(), "Google Chrome".into()],
            explanation: vec![
                run("Google Chrome", 3, 2_100_000_000, 12_000_000),
                run("Slack", 23, 20_000_000, 6_000_000),
            ],
            uncollected_hours: 0,
            model: ModelKind::Default,
            summary: String::new(),
            routine: None,
            routine_ended: None,
            hours_judged: None,
            quiet: false,
        }
    }

    #[test]
    fn an_unusual_day_is_told_by_its_two_largest_runs_with_its_own_title() {
        let config = IntelConfig::default();
        let mut v = unusual();
        v.summary = summary(&v, &Outcome::Unusual, &config);
        assert_eq!(
            v.summary,
            "Tue 14 Jul: Google Chrome 03:00–05:00, 2.1 GB (typically 12 MB); \
             Slack 23:00–24:00, 20 MB (typically 6.0 MB)"
        );
        let notice = v.notice().unwrap();
        assert_eq!(notice.title, "Unusual network day");
        assert_eq!(notice.body, v.summary);
        let mut normal = v.clone();
        normal.status = Status::Normal;
        assert!(normal.notice().is_none());
        // The hours so far of a day: its own title, and until when.
        let mut so_far = unusual();
        so_far.hours_judged = Some(4);
        so_far.summary = summary(&so_far, &Outcome::Unusual, &config);
        let notice = so_far.notice().unwrap();
        assert_eq!(notice.title, "Unusual network use today");
        assert!(
            notice
                .body
                .starts_with("Tue 14 Jul until 04:00: Google Chrome"),
            "{}",
            notice.body
        );
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["status"], "anomalous");
        assert_eq!(json["explanation"][0]["typical_bytes"], 12_000_000u64);
    }

    #[test]
    fn a_change_of_routine_is_one_notice_and_the_owners_is_none() {
        let config = IntelConfig::default();
        let since = NaiveDate::from_ymd_opt(2026, 7, 10).unwrap();
        let mut changed = unusual();
        changed.status = Status::Normal;
        changed.routine = Some(RoutineChange {
            since,
            kind: Some(DayKind::Workday),
            by: ChangedBy::Detected,
        });
        let outcome = Outcome::LetOff(LetOff::NewRoutine { since });
        changed.summary = summary(&changed, &outcome, &config);
        let notice = changed.notice().unwrap();
        assert_eq!(
            (notice.title.as_str(), notice.body.as_str()),
            (
                "Your routine changed",
                "Tue 14 Jul: Your weekdays look different since Fri 10 Jul; learning the new rhythm"
            )
        );
        changed.routine = changed.routine.map(|r| RoutineChange {
            by: ChangedBy::Owner,
            ..r
        });
        assert!(changed.notice().is_none(), "the owner knows already");
    }

    #[test]
    fn each_outcome_has_its_words() {
        let config = IntelConfig::default();
        let mut v = unusual();
        v.baseline_days = 3;
        v.uncollected_hours = 6;
        let say = |o: Outcome| summary(&v, &o, &config);
        assert_eq!(
            say(Outcome::TooLittleData),
            "Tue 14 Jul: not judged, 6 h not collected (at most 4 h)"
        );
        assert_eq!(
            say(Outcome::Learning {
                need: 7,
                relearning: false
            }),
            "Tue 14 Jul: learning, 3 of 7 days"
        );
        assert_eq!(
            say(Outcome::Learning {
                need: 3,
                relearning: true
            }),
            "Tue 14 Jul: learning the new rhythm, 3 of 3 days"
        );
        assert_eq!(say(Outcome::Usual), "Tue 14 Jul: normal");
        assert_eq!(
            say(Outcome::Dismissed(Dismissed::Small { above: 62e6 })),
            "Tue 14 Jul: normal; only 62 MB more than the typical day (an alarm needs 200 MB)"
        );
        assert_eq!(
            say(Outcome::Dismissed(Dismissed::Less)),
            "Tue 14 Jul: normal; less than the typical day"
        );
        assert_eq!(
            say(Outcome::LetOff(LetOff::BackToUsual {
                since: NaiveDate::from_ymd_opt(2026, 7, 1).unwrap()
            })),
            "Tue 14 Jul: back to the usual rhythm"
        );
    }
}
