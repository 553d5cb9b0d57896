//! Step three: the signals, read into findings. The model's error and the
//! hours that drove it, uploads far beyond what an app ever sent, and
//! bursts far beyond the baseline's envelope; each finding is a run of
//! hours of one app, and where two explain the same app over the same
//! hours one overlap policy keeps one of them.

use chrono::NaiveDate;

use crate::intel::config::IntelConfig;
use crate::intel::detector::{Detector, Judgement};
use crate::intel::envelope;
use crate::intel::error::IntelError;
use crate::intel::matrix::{browsers, AppView, Columns, DayMatrix, DayUsage};
use crate::intel::uploads::unusual_uploads;
use crate::intel::verdict::{explain, Explanation};

/// Which signal found a run of hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// The model's reconstruction error, in the hours that drove it.
    Model,
    /// Far beyond the baseline's envelope (a burst; any hour of a young
    /// routine).
    Envelope,
    /// Far more sent than the app ever sent in those hours.
    Upload,
    /// An app or destination never seen (see `novelty`).
    New,
}

/// A run of hours that makes the day unusual, and what found it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    pub signal: Signal,
    pub run: Explanation,
}

/// Why the model's alarm is no alarm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Dismissed {
    /// The day moved fewer bytes above its typical day than the floor.
    Small { above: f64 },
    /// Every run of hours that drove the error moved less than typical:
    /// less use is never an alarm.
    Less,
    /// One baseline day moved as much in the runs of hours that drove the
    /// error, give or take the byte floor in all: the baseline has seen
    /// this day already.
    Seen { on: NaiveDate },
}

/// What the model made of the day.
pub(crate) struct ModelRead {
    pub detector: Detector,
    pub judgement: Judgement,
}

/// Every signal's findings on one day, under the overlap policy.
pub(crate) struct Reading {
    pub findings: Vec<Finding>,
    /// `None` for a young routine: no model judges it.
    pub model: Option<ModelRead>,
    /// The model flagged the day, and why that is no alarm.
    pub dismissed: Option<Dismissed>,
}

impl Reading {
    /// Whether any signal found the day unusual.
    pub fn alarm(&self) -> bool {
        !self.findings.is_empty()
    }
}

/// Reads the signals of `target` against `baseline`. A `young` routine has
/// no model: its envelope and the uploads judge it. The signals that look
/// at apps one by one see them as the model does (see [`AppView`]).
///
/// # Errors
/// A model that cannot be trained or applied.
pub(crate) fn read(
    target: &DayUsage,
    baseline: &[&DayUsage],
    young: bool,
    new: &[Explanation],
    config: &IntelConfig,
) -> Result<Reading, IntelError> {
    let floor = config.min_change_bytes.0 as f64;
    let view = view_of(config);
    let by_app = ByApp::new(&view, target, baseline);
    let mut findings = Findings::default();
    // What is new is told as new, whatever else found the same hours.
    findings.add_all(Signal::New, new.to_vec());
    let mut model = None;
    let mut dismissed = None;
    if young {
        findings.add_all(Signal::Envelope, by_app.envelope(floor));
    } else {
        let detector = Detector::train(baseline, &config.settings())?;
        let judgement = detector.judge(target)?;
        if judgement.anomalous() {
            match model_runs(&judgement, &detector, target, baseline, floor) {
                Ok(runs) => findings.add_all(Signal::Model, runs),
                Err(why) => dismissed = Some(why),
            }
        }
        model = Some(ModelRead {
            detector,
            judgement,
        });
    }
    // Uploads are judged apart: in the matrix they add to the downloads of
    // the same hour, where a busy hour hides them.
    findings.add_all(Signal::Upload, by_app.uploads(floor));
    if !young {
        // So is an hour far beyond anything the baseline ever saw in it:
        // the model's error is spread over every cell of the day, where one
        // burst among typical hours (the hours so far) can drown.
        findings.add_all(Signal::Envelope, by_app.envelope(floor));
    }
    Ok(Reading {
        findings: findings.0,
        model,
        dismissed,
    })
}

/// How the model of `config` groups apps.
pub(crate) fn view_of(config: &IntelConfig) -> AppView {
    match config.settings().spec.group_browsers {
        true => AppView::new(vec![browsers()]),
        false => AppView::default(),
    }
}

/// A day and its baseline as an [`AppView`] sees them, for the signals
/// that look at apps one by one.
pub(crate) struct ByApp<'a> {
    view: &'a AppView,
    day: &'a DayUsage,
    grouped: DayUsage,
    baseline: Vec<DayUsage>,
}

impl<'a> ByApp<'a> {
    pub fn new(view: &'a AppView, day: &'a DayUsage, baseline: &[&DayUsage]) -> ByApp<'a> {
        ByApp {
            view,
            day,
            grouped: view.grouped(day),
            baseline: baseline.iter().map(|d| view.grouped(d)).collect(),
        }
    }

    fn baseline(&self) -> Vec<&DayUsage> {
        self.baseline.iter().collect()
    }

    /// Uploads far beyond what each app (or group) ever sent.
    pub fn uploads(&self, floor: f64) -> Vec<Explanation> {
        let runs = unusual_uploads(&self.grouped, &self.baseline(), floor);
        self.named(runs, &self.day.out)
    }

    /// App-hours far beyond the baseline's envelope.
    pub fn envelope(&self, floor: f64) -> Vec<Explanation> {
        let runs = envelope::beyond(&self.grouped, &self.baseline(), floor);
        self.named(runs, &self.day.apps)
    }

    /// Whether the day stays within the baseline's envelope over its first
    /// `hours` (see [`envelope::within`]).
    pub fn within(&self, hours: usize, floor: f64) -> bool {
        envelope::within(&self.grouped, &self.baseline(), hours, floor)
    }

    /// A group's runs named after the member app that moved most of them.
    fn named(
        &self,
        mut runs: Vec<Explanation>,
        cells: &std::collections::BTreeMap<String, [f64; 24]>,
    ) -> Vec<Explanation> {
        for run in &mut runs {
            let hours = usize::from(run.from_hour)..usize::from(run.to_hour).min(24);
            let label = run.app.clone();
            if let Some(app) = AppView::main_member(cells, hours, |a| self.view.in_group(&label, a))
            {
                run.app = app.to_string();
            }
        }
        runs
    }
}

/// The runs of hours that drove the model's error, named after the app a
/// person knows, or why none of them is news: too few bytes above typical
/// in all, only less than typical, or hours one baseline day moved as much
/// in (beyond it by less than the floor in all).
/// Where some runs are news and others hours some baseline day moved as
/// much in, only the news is told.
fn model_runs(
    judgement: &Judgement,
    detector: &Detector,
    target: &DayUsage,
    baseline: &[&DayUsage],
    floor: f64,
) -> Result<Vec<Explanation>, Dismissed> {
    let meta = &detector.meta;
    let above = judgement.bytes_above_typical(meta);
    if above < floor {
        return Err(Dismissed::Small { above });
    }
    let runs: Vec<Explanation> = explain(judgement, meta)
        .into_iter()
        .filter(|r| r.bytes > r.typical_bytes)
        .collect();
    if runs.is_empty() {
        return Err(Dismissed::Less);
    }
    let days: Vec<DayMatrix> = baseline.iter().map(|d| meta.columns.matrix(d)).collect();
    let moved = |m: &DayMatrix, r: &Explanation| -> f64 {
        let Some(col) = meta.columns.names.iter().position(|n| *n == r.app) else {
            return 0.0;
        };
        (usize::from(r.from_hour)..usize::from(r.to_hour).min(24))
            .map(|h| m.cell(col, h))
            .sum()
    };
    let covers = |m: &DayMatrix, r: &Explanation| moved(m, r) >= r.bytes as f64;
    // Beyond what one day moved by less than the floor in all is that
    // day's spread, not news (the floor's rule for every comparison).
    let beyond = |m: &DayMatrix| -> f64 {
        runs.iter()
            .map(|r| (r.bytes as f64 - moved(m, r)).max(0.0))
            .sum()
    };
    if let Some(m) = days.iter().find(|m| beyond(m) < floor) {
        return Err(Dismissed::Seen { on: m.day });
    }
    let news: Vec<Explanation> = runs
        .iter()
        .filter(|r| !days.iter().any(|m| covers(m, r)))
        .cloned()
        .collect();
    let mut runs = match news.is_empty() {
        true => runs,
        false => news,
    };
    name_the_app_behind_columns(&mut runs, &meta.columns, target);
    Ok(runs)
}

/// A run in a shared column ("Other apps", "Web browsers") is named after
/// the app that moved most of its bytes, when one did: a person wants to
/// read "Transmission", not "Other apps".
fn name_the_app_behind_columns(runs: &mut [Explanation], columns: &Columns, day: &DayUsage) {
    for run in runs.iter_mut() {
        let Some(col) = columns.names.iter().position(|n| *n == run.app) else {
            continue;
        };
        let hours = usize::from(run.from_hour)..usize::from(run.to_hour).min(24);
        let member = |app: &str| app != run.app && columns.column_of(app) == Some(col);
        if let Some(app) = AppView::main_member(&day.apps, hours, member) {
            run.app = app.to_string();
        }
    }
}

/// Findings in the order found, under the one overlap policy.
#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    /// Adds each run `signal` found.
    fn add_all(&mut self, signal: Signal, runs: Vec<Explanation>) {
        for run in runs {
            self.add(Finding { signal, run });
        }
    }

    /// Adds `new`. Where a finding already explains the same app over
    /// overlapping hours, one of the two is kept: what is new, else an
    /// upload over the other when it is at least half its bytes (the
    /// upload is the news), else
    /// the one found first (a new app that downloaded 120 GB and sent
    /// 12 GB is explained by the 120 GB).
    fn add(&mut self, new: Finding) {
        let overlapping = self.0.iter().position(|f| {
            f.run.app == new.run.app
                && new.run.from_hour < f.run.to_hour
                && f.run.from_hour < new.run.to_hour
        });
        match overlapping {
            None => self.0.push(new),
            Some(i)
                if new.signal == Signal::Upload
                    && self.0[i].signal != Signal::New
                    && new.run.bytes.saturating_mul(2) >= self.0[i].run.bytes =>
            {
                self.0[i] = new
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::verdict::Direction;

    fn run(app: &str, hours: std::ops::Range<u8>, bytes: u64, upload: bool) -> Explanation {
        Explanation {
            app: app.into(),
            from_hour: hours.start,
            to_hour: hours.end,
            bytes,
            typical_bytes: 0,
            direction: upload.then_some(Direction::Upload),
            destinations: Vec::new(),
            new: None,
        }
    }

    #[test]
    fn an_upload_replaces_the_models_run_only_where_it_is_the_news() {
        let mut f = Findings::default();
        f.add_all(
            Signal::Model,
            vec![
                run("Transmission", 1..5, 132_000_000_000, false),
                run("Google Chrome", 20..21, 3_500_000_000, false),
            ],
        );
        f.add_all(
            Signal::Upload,
            vec![
                run("Transmission", 1..5, 12_000_000_000, true),
                run("Google Chrome", 20..21, 2_000_000_000, true),
                run("Dropbox", 3..4, 900_000_000, true),
            ],
        );
        let runs: Vec<Explanation> = f.0.into_iter().map(|x| x.run).collect();
        assert_eq!(
            runs,
            vec![
                run("Transmission", 1..5, 132_000_000_000, false),
                run("Google Chrome", 20..21, 2_000_000_000, true),
                run("Dropbox", 3..4, 900_000_000, true),
            ]
        );
    }

    #[test]
    fn a_burst_over_hours_already_explained_adds_nothing() {
        let mut f = Findings::default();
        f.add_all(Signal::Model, vec![run("Steam", 1..3, 120_000, false)]);
        f.add_all(
            Signal::Envelope,
            vec![run("Steam", 0..2, 1, false), run("Steam", 5..6, 1, false)],
        );
        let kept: Vec<(u8, Signal)> = f.0.iter().map(|x| (x.run.from_hour, x.signal)).collect();
        assert_eq!(kept, [(1, Signal::Model), (5, Signal::Envelope)]);
    }
}
