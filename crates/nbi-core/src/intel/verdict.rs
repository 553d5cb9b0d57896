//! What was decided about a day, and why, in words and bytes.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::baseline::DayKind;
use super::detector::{Judgement, ModelKind, ModelMeta};
use super::routine::{ChangedBy, RoutineChange};
pub use super::status::Status;

/// A run of hours of one app that drove the error: `from_hour..to_hour`
/// (end exclusive, so 3–5 is 03:00–05:00), its bytes and the typical bytes
/// of those hours in the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub app: String,
    pub from_hour: u8,
    pub to_hour: u8,
    pub bytes: u64,
    pub typical_bytes: u64,
    /// `upload`: the bytes are what the app sent (the run is an upload far
    /// beyond what it ever sent in those hours); absent: in and out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Where the run's bytes went, the largest (in the run's direction)
    /// first, at most [`TOP_DESTINATIONS`]; empty when the source gave none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<RunDestination>,
    /// What is new about the run, when that is what makes it news.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<New>,
}

/// What is new (see `intel.novelty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum New {
    /// An app never seen before.
    App,
    /// An organisation or country the app never exchanged bytes with.
    Destination,
}

/// How many destinations a run names.
pub const TOP_DESTINATIONS: usize = 3;

/// One destination of a run: its name and what the run moved to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDestination {
    /// As shown: "Dropbox (US)", "local network", or an address.
    pub destination: String,
    pub org: Option<String>,
    pub country: Option<String>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Which way a run's bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Upload,
}

impl Explanation {
    /// "Google Chrome 03:00–05:00, 2.1 GB (typically 12 MB)", and for an
    /// upload "Google Chrome 20:00–21:00, uploaded 2.0 GB (typically 33 MB)";
    /// with its largest destination "…, uploaded 2.0 GB to Dropbox (US);
    /// typically 33 MB" or "…, 2.1 GB from Example Video (US); typically 12 MB".
    pub fn sentence(&self) -> String {
        let hours = format!("{:02}:00–{:02}:00", self.from_hour, self.to_hour);
        let bytes = crate::human::bytes(self.bytes);
        match (self.new, self.destinations.first()) {
            (Some(New::App), _) => return format!("new app {} {hours}, {bytes}", self.app),
            (Some(New::Destination), Some(d)) => {
                return format!(
                    "new destination for {} {hours}: {bytes} uploaded to {}",
                    self.app, d.destination
                )
            }
            _ => {}
        }
        let head = format!(
            "{} {:02}:00–{:02}:00, {}{}",
            self.app,
            self.from_hour,
            self.to_hour,
            match self.direction {
                Some(Direction::Upload) => "uploaded ",
                None => "",
            },
            crate::human::bytes(self.bytes),
        );
        let typical = crate::human::bytes(self.typical_bytes);
        match self.destinations.first() {
            Some(d) => {
                let to = self.direction == Some(Direction::Upload) || d.bytes_out > d.bytes_in;
                let word = if to { "to" } else { "from" };
                format!("{head} {word} {}; typically {typical}", d.destination)
            }
            None => format!("{head} (typically {typical})"),
        }
    }
}

/// The hours of one app that count, merged into runs of hours: `hour(h)`
/// gives the bytes and the typical bytes of hour `h` when it counts, and
/// `None` when it does not.
pub(crate) fn runs_of_hours(
    app: &str,
    direction: Option<Direction>,
    mut hour: impl FnMut(usize) -> Option<(f64, f64)>,
) -> Vec<Explanation> {
    let mut runs = Vec::new();
    let mut open: Option<Explanation> = None;
    for h in 0..24 {
        match hour(h) {
            Some((bytes, typical)) => {
                let run = open.get_or_insert_with(|| Explanation {
                    app: app.to_string(),
                    from_hour: h as u8,
                    to_hour: h as u8,
                    bytes: 0,
                    typical_bytes: 0,
                    direction,
                    destinations: Vec::new(),
                    new: None,
                });
                run.to_hour = h as u8 + 1;
                run.bytes += bytes as u64;
                run.typical_bytes += typical as u64;
            }
            None => runs.extend(open.take()),
        }
    }
    runs.extend(open);
    runs
}

/// Orders runs largest first (by bytes), then by app.
pub(crate) fn largest_first(runs: &mut [Explanation]) {
    runs.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.app.cmp(&b.app)));
}

/// The verdict on one local day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub day: NaiveDate,
    pub status: Status,
    pub error: Option<f64>,
    pub threshold: Option<f64>,
    /// How many baseline days the model learnt from.
    pub baseline_days: usize,
    /// Which days those were.
    pub baseline: Vec<NaiveDate>,
    pub day_kind: DayKind,
    /// The model's columns (apps, groups, and "Other apps").
    pub apps: Vec<String>,
    pub explanation: Vec<Explanation>,
    /// Hours of the day the watcher did not see (filled from earlier days).
    pub uncollected_hours: u32,
    pub model: ModelKind,
    /// One line for a notification.
    pub summary: String,
    /// A lasting change of routine recognised on this day (detected), or
    /// the owner's "new normal" starting on it: baselines of the days it
    /// covers start on its `since` day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routine: Option<RoutineChange>,
    /// The first day of a young routine this day showed to have been
    /// passing (a week abroad): baselines go back to the routine before it
    /// and leave its days out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routine_ended: Option<NaiveDate>,
    /// A same-day verdict: only the local hours `0..hours_judged` of the
    /// day were judged (the rest had not happened). `None`: the whole day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_judged: Option<u8>,
    /// The model found the day unusual, but it moved fewer extra bytes
    /// than the byte floor (less use than usual counts for nothing): not an
    /// alarm, and a baseline day only when too few others are there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quiet: bool,
}

/// Title of the notification of an unusual day.
pub const NOTICE_TITLE: &str = "Unusual network day";
/// Title of the notification of an unusual day so far (same-day judging).
pub const SO_FAR_TITLE: &str = "Unusual network use today";
/// Title of the notification of a recognised change of routine.
pub const ROUTINE_TITLE: &str = "Your routine changed";

impl Verdict {
    /// The record of a day whose judging failed for good, with the reason
    /// in its summary ("Sat 11 Jul: could not be judged: …").
    pub fn failed(day: NaiveDate, day_kind: DayKind, model: ModelKind, reason: &str) -> Verdict {
        Verdict {
            day,
            status: Status::Failed,
            error: None,
            threshold: None,
            baseline_days: 0,
            baseline: Vec::new(),
            day_kind,
            apps: Vec::new(),
            explanation: Vec::new(),
            uncollected_hours: 0,
            model,
            summary: format!("{}: could not be judged: {reason}", short_day(day)),
            routine: None,
            routine_ended: None,
            hours_judged: None,
            quiet: false,
        }
    }

    /// The notification of this verdict: of an anomalous day (or of an
    /// unusual day so far), or of a change of routine recognised on it;
    /// none for other days.
    pub fn notice(&self) -> Option<crate::notify::Notice> {
        if self.status == Status::Anomalous {
            let title = match self.hours_judged {
                Some(_) => SO_FAR_TITLE,
                None => NOTICE_TITLE,
            };
            return Some(crate::notify::Notice {
                title: title.to_string(),
                body: self.summary.clone(),
            });
        }
        self.routine
            .filter(|r| r.by == ChangedBy::Detected)
            .map(|_| crate::notify::Notice {
                title: ROUTINE_TITLE.to_string(),
                body: self.summary.clone(),
            })
    }
}

/// A cell is named when its error is at least this share of the largest.
const SHARE_OF_LARGEST: f64 = 0.25;
/// Most cells an explanation names before merging.
const MAX_CELLS: usize = 12;

/// The cells that drove the error, merged into runs of hours per column:
/// the cells with an error comparable to the largest (and well above the
/// average cell's), largest first.
pub fn explain(j: &Judgement, meta: &ModelMeta) -> Vec<Explanation> {
    let total: f64 = j.cell_errors.iter().sum();
    if total <= 0.0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..j.cell_errors.len()).collect();
    order.sort_by(|a, b| {
        j.cell_errors[*b]
            .total_cmp(&j.cell_errors[*a])
            .then(a.cmp(b))
    });
    let fair = total / j.cell_errors.len() as f64;
    let largest = order.first().map(|i| j.cell_errors[*i]).unwrap_or(0.0);
    let floor = (4.0 * fair).max(SHARE_OF_LARGEST * largest);
    let mut chosen: Vec<usize> = order
        .into_iter()
        .take(MAX_CELLS)
        .take_while(|i| j.cell_errors[*i] >= floor)
        .collect();
    chosen.sort_unstable();
    let mut out: Vec<Explanation> = Vec::new();
    let mut last: Option<usize> = None;
    for i in chosen {
        let (col, hour) = (i / 24, i % 24);
        let bytes = j.matrix.cells.get(i).copied().unwrap_or(0.0).max(0.0) as u64;
        let typical = meta.typical.get(i).copied().unwrap_or(0.0).max(0.0) as u64;
        let extends = last == Some(i.wrapping_sub(1)) && i % 24 != 0;
        match out.last_mut() {
            Some(run) if extends => {
                run.to_hour = hour as u8 + 1;
                run.bytes += bytes;
                run.typical_bytes += typical;
            }
            _ => out.push(Explanation {
                app: meta.columns.names.get(col).cloned().unwrap_or_default(),
                from_hour: hour as u8,
                to_hour: hour as u8 + 1,
                bytes,
                typical_bytes: typical,
                direction: None,
                destinations: Vec::new(),
                new: None,
            }),
        }
        last = Some(i);
    }
    // The run that moved the most bytes away from typical first.
    out.sort_by_key(|e| std::cmp::Reverse(e.bytes.abs_diff(e.typical_bytes)));
    out
}

/// "Tue 11 Jul"
pub fn short_day(day: NaiveDate) -> String {
    day.format("%a %-d %b").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::detector::{ModelKind, ModelSpec};
    use crate::intel::matrix::{Columns, DayMatrix};

    fn meta(names: &[&str], typical: Vec<f64>) -> ModelMeta {
        ModelMeta {
            spec: ModelSpec::of(ModelKind::Default, 5),
            columns: Columns {
                names: names.iter().map(|s| s.to_string()).collect(),
                groups: Vec::new(),
                other: false,
            },
            scale: 1.0,
            threshold: 1.0,
            threshold_factor: 1.5,
            baseline_errors: vec![],
            typical,
            seeds: vec![0],
            epochs: 1,
        }
    }

    #[test]
    fn driving_cells_merge_into_runs_of_hours_per_app() {
        let day = NaiveDate::from_ymd_opt(2026, 7, 14).unwrap();
        let mut errors = vec![0.001; 48];
        let mut cells = vec![1e6; 48];
        // Chrome (column 1) 03:00–05:00, and one hour of Slack at 23:00.
        for h in [3, 4] {
            errors[24 + h] = 1.0;
            cells[24 + h] = 1.05e9;
        }
        errors[23] = 1.0;
        cells[23] = 2e7;
        let j = Judgement {
            error: 0.1,
            threshold: 0.05,
            cell_errors: errors,
            matrix: DayMatrix {
                day,
                cells,
                uncollected: [false; 24],
            },
        };
        let m = meta(&["Slack", "Google Chrome"], vec![6e6; 48]);
        let e = explain(&j, &m);
        assert_eq!(
            e,
            vec![
                Explanation {
                    app: "Google Chrome".into(),
                    from_hour: 3,
                    to_hour: 5,
                    bytes: 2_100_000_000,
                    typical_bytes: 12_000_000,
                    direction: None,
                    destinations: Vec::new(),
                    new: None,
                },
                Explanation {
                    app: "Slack".into(),
                    from_hour: 23,
                    to_hour: 24,
                    bytes: 20_000_000,
                    typical_bytes: 6_000_000,
                    direction: None,
                    destinations: Vec::new(),
                    new: None,
                },
            ]
        );
        assert_eq!(
            e[0].sentence(),
            "Google Chrome 03:00–05:00, 2.1 GB (typically 12 MB)"
        );
        let json = serde_json::to_value(&e[0]).unwrap();
        assert_eq!(json["from_hour"], 3);
        assert_eq!(json["typical_bytes"], 12_000_000u64);
    }

    #[test]
    fn runs_do_not_wrap_from_one_app_to_the_next() {
        let day = NaiveDate::from_ymd_opt(2026, 7, 14).unwrap();
        let mut errors = vec![0.0; 48];
        errors[23] = 1.0; // column 0, 23:00
        errors[24] = 1.0; // column 1, 00:00
        let j = Judgement {
            error: 1.0,
            threshold: 0.5,
            cell_errors: errors,
            matrix: DayMatrix {
                day,
                cells: vec![5e8; 48],
                uncollected: [false; 24],
            },
        };
        let e = explain(&j, &meta(&["A", "B"], vec![0.0; 48]));
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].to_hour, e[1].from_hour), (24, 0));
    }

    #[test]
    fn status_names_are_the_json_ones() {
        for s in [
            Status::Normal,
            Status::Anomalous,
            Status::Learning,
            Status::InsufficientData,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
        }
    }
}
