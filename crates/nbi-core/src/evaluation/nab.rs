//! Real lives: public series with a human daily and weekly rhythm and
//! labelled days that broke it, from the Numenta Anomaly Benchmark (NAB):
//! New York taxi passengers (Jul 2014 – Jan 2015) and the volume of tweets
//! about three companies (spring 2015). Each series becomes the hourly
//! bytes of one app and is judged day by day as `nbi run` judges, with the
//! settings given (the defaults, for every series alike).
//!
//! Counts are not bytes: every series is scaled by one rule, so that its
//! median day moves [`MEDIAN_DAY_BYTES`] (about the demo persona's day).
//!
//! A labelled day is the local day of one of NAB's anomaly points; an
//! ordinary day is one outside every one of NAB's anomaly windows. A
//! labelled day is a *surge* when, against the 14 days of its kind before
//! it (raw data, nothing left out), its total is at least
//! [`SURGE_TOTAL`] × the largest of theirs, or one of its hours at least
//! [`SURGE_HOUR`] × the most that hour moved on any of them, by the byte
//! floor in both cases. Surges must be flagged; drops (a holiday, a
//! blizzard) need not be: less use is never an alarm.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::intel::baseline::{day_kind, DayKind};
use crate::intel::verdict::{Status, Verdict};
use crate::intel::{judge_and_store, IntelConfig, IntelError};
use crate::store::sqlite::SqliteStore;
use crate::store::TickWriter;
use crate::tick::Tick;

/// Every series is scaled so that its median day moves this many bytes.
pub const MEDIAN_DAY_BYTES: f64 = 5e9;
/// A surge's day total: at least this many times the largest of the 14
/// days of its kind before it.
pub const SURGE_TOTAL: f64 = 1.2;
/// A surge's hour: at least this many times the most that hour moved on
/// the 14 days of its kind before it.
pub const SURGE_HOUR: f64 = 2.0;
/// Days of its kind a labelled day is held against to call it a surge.
const SURGE_DAYS: usize = 14;

const HOST: &str = "nab";

/// One of NAB's series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Series {
    /// NAB's name of the file, and the key of its labels.
    pub key: &'static str,
    /// The app its counts become.
    pub app: &'static str,
    /// The zone its timestamps are written in (and its days judged in).
    pub tz: Tz,
}

/// The series judged: a city's taxi rides (New York wall-clock time) and
/// three companies' tweets (UTC).
pub const SERIES: [Series; 4] = [
    Series {
        key: "realKnownCause/nyc_taxi.csv",
        app: "Taxi",
        tz: chrono_tz::America::New_York,
    },
    Series {
        key: "realTweets/Twitter_volume_GOOG.csv",
        app: "Tweets GOOG",
        tz: chrono_tz::UTC,
    },
    Series {
        key: "realTweets/Twitter_volume_AMZN.csv",
        app: "Tweets AMZN",
        tz: chrono_tz::UTC,
    },
    Series {
        key: "realTweets/Twitter_volume_KO.csv",
        app: "Tweets KO",
        tz: chrono_tz::UTC,
    },
];

/// What can go wrong reading the corpus.
#[derive(Debug, thiserror::Error)]
pub enum NabError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: {reason}")]
    Labels { path: PathBuf, reason: String },
    #[error(transparent)]
    Intel(#[from] IntelError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// How one labelled day was judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledDay {
    pub day: NaiveDate,
    pub surge: bool,
    pub status: Status,
    pub summary: String,
}

/// How one series was judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesReport {
    pub series: String,
    /// Days judged (normal or anomalous).
    pub judged: usize,
    pub labelled: Vec<LabelledDay>,
    /// Judged days outside every labelled window.
    pub ordinary: usize,
    /// Ordinary days flagged: (day, summary).
    pub false_alarms: Vec<(NaiveDate, String)>,
    /// Flagged days whose every explained run is at or below typical.
    pub flagged_for_less: Vec<NaiveDate>,
    /// Every day's verdict: (day, status, summary).
    pub days: Vec<(NaiveDate, Status, String)>,
}

impl SeriesReport {
    /// False alarms per 30 ordinary days.
    pub fn false_alarm_rate(&self) -> f64 {
        match self.ordinary {
            0 => 0.0,
            n => self.false_alarms.len() as f64 * 30.0 / n as f64,
        }
    }

    /// Surges judged (not still learning) and how many were flagged.
    pub fn surges(&self) -> (usize, usize) {
        let judged: Vec<&LabelledDay> = self
            .labelled
            .iter()
            .filter(|l| l.surge && matches!(l.status, Status::Normal | Status::Anomalous))
            .collect();
        let flagged = judged
            .iter()
            .filter(|l| l.status == Status::Anomalous)
            .count();
        (flagged, judged.len())
    }

    /// The report as text.
    pub fn table(&self) -> String {
        let (flagged, surges) = self.surges();
        let mut out = format!(
            "{}: {} days judged, surges flagged {flagged}/{surges}, false alarms {} in {} ordinary days ({:.2} per 30), flagged for less {}\n",
            self.series,
            self.judged,
            self.false_alarms.len(),
            self.ordinary,
            self.false_alarm_rate(),
            self.flagged_for_less.len(),
        );
        for l in &self.labelled {
            out.push_str(&format!(
                "  labelled {} {:<6} {:<17} {}\n",
                l.day,
                if l.surge { "surge" } else { "-" },
                l.status.name(),
                l.summary
            ));
        }
        for (day, summary) in &self.false_alarms {
            out.push_str(&format!("  false alarm {day}: {summary}\n"));
        }
        for day in &self.flagged_for_less {
            out.push_str(&format!("  flagged for less {day}\n"));
        }
        out
    }
}

/// The goals over every series: each judged surge flagged, no day flagged
/// only for using less, and at most one false alarm per 30 ordinary days
/// over the corpus (a series of 35 ordinary days says little on its own:
/// one false alarm there is 0.86 per 30).
pub fn goal_met(reports: &[SeriesReport]) -> bool {
    let (alarms, ordinary) = false_alarms(reports);
    reports.iter().all(|r| {
        let (flagged, surges) = r.surges();
        flagged == surges && r.flagged_for_less.is_empty()
    }) && alarms as f64 * 30.0 <= ordinary as f64
}

/// False alarms and ordinary days over every series.
pub fn false_alarms(reports: &[SeriesReport]) -> (usize, usize) {
    (
        reports.iter().map(|r| r.false_alarms.len()).sum(),
        reports.iter().map(|r| r.ordinary).sum(),
    )
}

/// One line over every series.
pub fn summary(reports: &[SeriesReport]) -> String {
    let (alarms, ordinary) = false_alarms(reports);
    format!(
        "all series: {alarms} false alarms in {ordinary} ordinary days ({:.2} per 30): goal {}",
        alarms as f64 * 30.0 / ordinary.max(1) as f64,
        if goal_met(reports) { "met" } else { "NOT met" }
    )
}

/// NAB's labels of one series: its anomaly points and windows, as local
/// times of the series' own clock.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    pub points: Vec<NaiveDateTime>,
    pub windows: Vec<(NaiveDateTime, NaiveDateTime)>,
}

/// Reads the labels of `key` from the corpus under `dir`.
///
/// # Errors
/// A labels file that cannot be read or does not hold the key.
pub fn labels(dir: &Path, key: &str) -> Result<Labels, NabError> {
    let read = |name: &str| -> Result<serde_json::Value, NabError> {
        let path = dir.join("labels").join(name);
        let text = std::fs::read_to_string(&path).map_err(|source| NabError::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| NabError::Labels {
            path,
            reason: e.to_string(),
        })
    };
    let parse = |v: &serde_json::Value| -> Option<NaiveDateTime> {
        let s = v.as_str()?;
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok()
    };
    let missing = |name: &str| NabError::Labels {
        path: dir.join("labels").join(name),
        reason: format!("no labels of {key}"),
    };
    let points = read("combined_labels.json")?
        .get(key)
        .and_then(|v| v.as_array().cloned())
        .ok_or_else(|| missing("combined_labels.json"))?
        .iter()
        .filter_map(parse)
        .collect();
    let windows = read("combined_windows.json")?
        .get(key)
        .and_then(|v| v.as_array().cloned())
        .ok_or_else(|| missing("combined_windows.json"))?
        .iter()
        .filter_map(|w| Some((parse(w.get(0)?)?, parse(w.get(1)?)?)))
        .collect();
    Ok(Labels { points, windows })
}

/// A series' rows: (local time, count).
pub fn rows(path: &Path) -> Result<Vec<(NaiveDateTime, f64)>, NabError> {
    let text = std::fs::read_to_string(path).map_err(|source| NabError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let bad = |reason: String| NabError::Line {
            path: path.to_path_buf(),
            line: i + 1,
            reason,
        };
        let (ts, value) = line
            .split_once(',')
            .ok_or_else(|| bad("expected timestamp,value".into()))?;
        let at = NaiveDateTime::parse_from_str(ts.trim(), "%Y-%m-%d %H:%M:%S")
            .map_err(|e| bad(format!("timestamp {ts:?}: {e}")))?;
        let v: f64 = value
            .trim()
            .parse()
            .map_err(|e| bad(format!("value {value:?}: {e}")))?;
        if !(v.is_finite() && v >= 0.0) {
            return Err(bad(format!("value {v} is not a count")));
        }
        out.push((at, v));
    }
    Ok(out)
}

/// The series as hourly ticks of its app, scaled (see [`MEDIAN_DAY_BYTES`]).
fn ticks(series: &Series, rows: &[(NaiveDateTime, f64)]) -> Vec<Tick> {
    let step = match rows {
        [a, b, ..] => (b.0 - a.0).num_seconds().clamp(1, 3600) as u32,
        _ => 3600,
    };
    let mut days: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for (at, v) in rows {
        *days.entry(at.date()).or_default() += v;
    }
    // Whole days only: the first and last are cut.
    let whole: Vec<f64> = days
        .iter()
        .filter(|(d, _)| Some(*d) != days.keys().next() && Some(*d) != days.keys().last())
        .map(|(_, v)| *v)
        .collect();
    let median = crate::intel::stats::median(whole);
    let scale = if median > 0.0 {
        MEDIAN_DAY_BYTES / median
    } else {
        1.0
    };
    rows.iter()
        .filter_map(|(at, v)| {
            let utc = series
                .tz
                .from_local_datetime(at)
                .earliest()?
                .with_timezone(&Utc);
            let bytes = (v * scale).round() as u64;
            Some(Tick::from_totals(
                HOST,
                utc,
                step,
                [(series.app.to_string(), (bytes, 0))],
            ))
        })
        .collect()
}

/// Per local day, its bytes per local hour (the labelled days' surge test).
fn hours_by_day(series: &Series, rows: &[(NaiveDateTime, f64)]) -> BTreeMap<NaiveDate, [f64; 24]> {
    let mut out: BTreeMap<NaiveDate, [f64; 24]> = BTreeMap::new();
    for (at, v) in rows {
        let local = series
            .tz
            .from_local_datetime(at)
            .earliest()
            .map(|t| t.naive_local())
            .unwrap_or(*at);
        out.entry(local.date()).or_insert([0.0; 24])[chrono::Timelike::hour(&local) as usize] += v;
    }
    out
}

/// Whether `day` is a surge (see the module's documentation); `floor` in
/// the series' counts.
fn surge(
    day: NaiveDate,
    hours: &BTreeMap<NaiveDate, [f64; 24]>,
    config: &IntelConfig,
    floor: f64,
) -> bool {
    let work = &config.work_week;
    let kind: DayKind = day_kind(day, work);
    let Some(cells) = hours.get(&day) else {
        return false;
    };
    let before: Vec<&[f64; 24]> = hours
        .range(..day)
        .rev()
        .filter(|(d, _)| day_kind(**d, work) == kind)
        .take(SURGE_DAYS)
        .map(|(_, c)| c)
        .collect();
    if before.is_empty() {
        return false;
    }
    let total: f64 = cells.iter().sum();
    let most_total = before
        .iter()
        .map(|c| c.iter().sum::<f64>())
        .fold(0.0, f64::max);
    let day_surge = total >= SURGE_TOTAL * most_total && total - most_total >= floor;
    let hour_surge = (0..24).any(|h| {
        let most = before.iter().map(|c| c[h]).fold(0.0, f64::max);
        cells[h] >= SURGE_HOUR * most && cells[h] - most >= floor
    });
    day_surge || hour_surge
}

/// Judges `series` from the corpus under `dir` day by day with `config`,
/// in a SQLite store under `work`; `progress(done, of)` after each day.
///
/// # Errors
/// A corpus file that cannot be read, a store or model error.
pub fn run(
    dir: &Path,
    series: &Series,
    config: &IntelConfig,
    work: &Path,
    mut progress: impl FnMut(usize, usize),
) -> Result<SeriesReport, NabError> {
    let rows = rows(&dir.join("data").join(series.key))?;
    let labels = labels(dir, series.key)?;
    let ticks = ticks(series, &rows);
    let path = work.join(format!("nab-{}.sqlite", series.app.replace(' ', "-")));
    let _ = std::fs::remove_file(&path);
    let mut store = SqliteStore::open(&path)?;
    for chunk in ticks.chunks(5000) {
        store.write(chunk)?;
    }
    let hours = hours_by_day(series, &rows);
    let days: Vec<NaiveDate> = hours.keys().copied().collect();
    let scale = {
        let stored: f64 = ticks.iter().map(|t| t.total_in() as f64).sum();
        let counted: f64 = rows.iter().map(|r| r.1).sum();
        if counted > 0.0 {
            stored / counted
        } else {
            1.0
        }
    };
    let floor = config.min_change_bytes.0 as f64 / scale;
    let mut verdicts: Vec<Verdict> = Vec::with_capacity(days.len());
    for (i, day) in days.iter().enumerate() {
        let now = judged_at(*day, series.tz);
        verdicts.push(judge_and_store(
            &mut store, HOST, *day, series.tz, config, now,
        )?);
        progress(i + 1, days.len());
    }
    drop(store);
    let _ = std::fs::remove_file(&path);
    let labelled_days: BTreeSet<NaiveDate> = labels.points.iter().map(|p| p.date()).collect();
    let in_window = |d: NaiveDate| {
        labels
            .windows
            .iter()
            .any(|(from, to)| from.date() <= d && d <= to.date())
    };
    let judged = |v: &Verdict| matches!(v.status, Status::Normal | Status::Anomalous);
    let mut report = SeriesReport {
        series: series.key.to_string(),
        judged: verdicts.iter().filter(|v| judged(v)).count(),
        labelled: Vec::new(),
        ordinary: 0,
        false_alarms: Vec::new(),
        flagged_for_less: Vec::new(),
        days: verdicts
            .iter()
            .map(|v| (v.day, v.status, v.summary.clone()))
            .collect(),
    };
    for v in &verdicts {
        let alarm = v.status == Status::Anomalous;
        if alarm && v.explanation.iter().all(|e| e.bytes <= e.typical_bytes) {
            report.flagged_for_less.push(v.day);
        }
        if labelled_days.contains(&v.day) {
            report.labelled.push(LabelledDay {
                day: v.day,
                surge: surge(v.day, &hours, config, floor),
                status: v.status,
                summary: v.summary.clone(),
            });
        } else if !in_window(v.day) && judged(v) {
            report.ordinary += 1;
            if alarm {
                report.false_alarms.push((v.day, v.summary.clone()));
            }
        }
    }
    Ok(report)
}

/// When `nbi run` judges a day: ten minutes after it ends.
fn judged_at(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let next = day + Duration::days(1);
    next.and_hms_opt(0, 10, 0)
        .and_then(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_surge_is_far_above_every_day_of_its_kind_and_a_drop_is_not() {
        let config = IntelConfig::default();
        let mut hours = BTreeMap::new();
        // Mondays to Fridays of four weeks from Mon 1 Jun 2026, alike.
        for i in 0..28 {
            let d = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap() + Duration::days(i);
            let mut c = [10.0; 24];
            c[12] = 40.0 + i as f64;
            hours.insert(d, c);
        }
        let mut burst = [10.0; 24];
        burst[3] = 60.0;
        let day = NaiveDate::from_ymd_opt(2026, 6, 29).unwrap();
        hours.insert(day, burst);
        assert!(surge(day, &hours, &config, 5.0), "an hour 6× its most");
        assert!(
            !surge(day, &hours, &config, 100.0),
            "by less than the floor"
        );
        hours.insert(day, [1.0; 24]);
        assert!(!surge(day, &hours, &config, 5.0), "a drop");
        hours.insert(day, [16.0; 24]);
        assert!(surge(day, &hours, &config, 5.0), "a day 1.2× the largest");
    }

    #[test]
    fn rows_and_labels_are_read_with_their_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("s.csv");
        std::fs::write(
            &data,
            "timestamp,value\n2014-07-01 00:00:00,10\n2014-07-01 00:30:00,x\n",
        )
        .unwrap();
        let err = rows(&data).unwrap_err().to_string();
        assert!(err.contains("s.csv:3: value \"x\""), "{err}");
        std::fs::create_dir(dir.path().join("labels")).unwrap();
        std::fs::write(
            dir.path().join("labels/combined_labels.json"),
            r#"{"a/s.csv": ["2014-11-01 19:00:00"]}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("labels/combined_windows.json"),
            r#"{"a/s.csv": [["2014-10-30 15:30:00.000000", "2014-11-03 22:30:00.000000"]]}"#,
        )
        .unwrap();
        let l = labels(dir.path(), "a/s.csv").unwrap();
        assert_eq!(l.points.len(), 1);
        assert_eq!(
            l.windows[0].1.date(),
            NaiveDate::from_ymd_opt(2014, 11, 3).unwrap()
        );
        assert!(labels(dir.path(), "b.csv")
            .unwrap_err()
            .to_string()
            .contains("no labels of b.csv"));
    }
}
