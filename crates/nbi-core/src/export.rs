//! Export of stored ticks over local days, for spreadsheets (CSV) or for
//! another store (NDJSON in the tick message format, which `nbi import`
//! reads back to the same totals).
//!
//! CSV: a header `timestamp,host,app,bytes_in,bytes_out`, then one row per
//! app per tick, `timestamp` the interval's start in UTC (RFC 3339). Days
//! older than the store keeps minute data for come as hourly ticks
//! (3600 s).

use std::io::Write;
use std::path::Path;

use chrono::{NaiveDate, SecondsFormat};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::store::timeline::local_day_bounds;
use crate::store::{HostFilter, StoreError, UsageQuery};
use crate::tick::Tick;

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Ndjson,
}

impl ExportFormat {
    /// The usual file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Ndjson => "ndjson",
        }
    }
}

/// What to export: the local days `from..=to` of `host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportQuery {
    pub host: HostFilter,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Only this app (its exact name); ticks without it are left out.
    pub app: Option<String>,
    /// Only the bytes over this network.
    pub network: Option<crate::tick::NetworkId>,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// Ticks exported (NDJSON lines).
    pub ticks: u64,
    /// App rows exported (CSV lines after the header).
    pub rows: u64,
}

/// The CSV header.
pub const HEADER: [&str; 5] = ["timestamp", "host", "app", "bytes_in", "bytes_out"];

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing the export: {0}")]
    Csv(#[from] csv::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("the range {from}..{to} ends before it starts")]
    Range { from: NaiveDate, to: NaiveDate },
    #[error("cannot write {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

/// Runs `write` into a temporary file beside `path` (created exclusively,
/// 0600: see [`crate::files::Replacement`]) and, once it is whole and
/// synced, renames it over `path`: a failed or cut export leaves no half
/// file in its place and none beside it, and a link planted there is never
/// written through. Two exports to one file each write a whole file; the
/// last one renamed stays.
pub fn to_file<T, E: From<ExportError>>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T, E>,
) -> Result<T, E> {
    let file_error = |source| {
        E::from(ExportError::File {
            path: path.display().to_string(),
            source,
        })
    };
    let file = crate::files::Replacement::begin(path).map_err(file_error)?;
    let mut out = std::io::BufWriter::new(file);
    let written = write(&mut out)?;
    let file = out.into_inner().map_err(|e| file_error(e.into_error()))?;
    file.commit().map_err(file_error)?;
    Ok(written)
}

/// Writes the export to `out` (buffer it: it is written row by row).
pub fn write(
    store: &dyn UsageQuery,
    query: &ExportQuery,
    tz: Tz,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<ExportReport, ExportError> {
    if query.to < query.from {
        return Err(ExportError::Range {
            from: query.from,
            to: query.to,
        });
    }
    let start = local_day_bounds(query.from, tz).start;
    let end = local_day_bounds(query.to, tz).end;
    let mut report = ExportReport::default();
    let mut sink = match format {
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(HEADER)?;
            Sink::Csv(Box::new(w))
        }
        ExportFormat::Ndjson => Sink::Ndjson(out),
    };
    // Only store errors pass through the walk: a write error is kept here.
    let mut write_error: Option<ExportError> = None;
    let result = store.for_each_tick(&query.host, start, end, &mut |mut tick: Tick| {
        if let Some(network) = &query.network {
            tick = tick.on_network(network);
        }
        if let Some(app) = &query.app {
            tick.apps.retain(|a| &a.app == app);
            if tick.apps.is_empty() {
                return Ok(());
            }
        }
        let written = match &mut sink {
            Sink::Csv(w) => write_csv_rows(w, &tick).map_err(ExportError::from),
            Sink::Ndjson(out) => writeln!(out, "{}", tick.to_json())
                .map(|()| tick.apps.len() as u64)
                .map_err(ExportError::from),
        };
        match written {
            Ok(rows) => {
                report.ticks += 1;
                report.rows += rows;
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                write_error = Some(e);
                Err(StoreError::Query(msg))
            }
        }
    });
    if let Some(e) = write_error {
        return Err(e);
    }
    result?;
    match sink {
        Sink::Csv(mut w) => w.flush()?,
        Sink::Ndjson(out) => out.flush()?,
    }
    Ok(report)
}

enum Sink<'a> {
    Csv(Box<csv::Writer<&'a mut dyn Write>>),
    Ndjson(&'a mut dyn Write),
}

fn write_csv_rows(out: &mut csv::Writer<&mut dyn Write>, tick: &Tick) -> csv::Result<u64> {
    let ts = tick.at.to_rfc3339_opts(SecondsFormat::Secs, true);
    for a in &tick.apps {
        out.write_record([
            ts.as_str(),
            &spreadsheet_safe(&tick.host),
            &spreadsheet_safe(&a.app),
            &a.bytes_in.to_string(),
            &a.bytes_out.to_string(),
        ])?;
    }
    Ok(tick.apps.len() as u64)
}

/// A name that a spreadsheet would run as a formula (a leading `=`, `+`,
/// `-`, `@`, tab or carriage return: OWASP's list) gets a quote mark in
/// front, so it is shown as the name.
fn spreadsheet_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_formula_start_is_quoted() {
        for bad in ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"] {
            assert!(spreadsheet_safe(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(spreadsheet_safe("Google Chrome"), "Google Chrome");
        assert_eq!(
            spreadsheet_safe(" =1"),
            " =1",
            "not a formula to a spreadsheet"
        );
    }
    use crate::store::sqlite::SqliteStore;
    use crate::store::TickWriter;
    use chrono::{TimeZone, Utc};

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("e.sqlite")).unwrap();
        let at = |h, m| Utc.with_ymd_and_hms(2026, 11, 2, h, m, 0).unwrap();
        s.write(&[
            Tick::from_totals("mac", at(9, 0), 60, [("Slack".into(), (10, 2))]),
            Tick::from_totals(
                "mac",
                at(9, 1),
                60,
                [
                    ("Slack".into(), (5, 1)),
                    ("Helper, \"beta\"".into(), (7, 0)),
                    ("=cmd".into(), (1, 1)),
                ],
            ),
            Tick::from_totals("mac", at(9, 2), 60, Vec::new()),
            // the next UTC day: outside the export of 2 Nov in UTC
            Tick::from_totals(
                "mac",
                at(23, 59) + chrono::Duration::minutes(1),
                60,
                [("Slack".into(), (99, 0))],
            ),
        ])
        .unwrap();
        (dir, s)
    }

    fn export(s: &SqliteStore, format: ExportFormat, app: Option<&str>) -> (String, ExportReport) {
        let mut out = Vec::new();
        let day: NaiveDate = "2026-11-02".parse().unwrap();
        let q = ExportQuery {
            host: HostFilter::All,
            from: day,
            to: day,
            app: app.map(str::to_string),
            network: None,
        };
        let r = write(s, &q, chrono_tz::UTC, format, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), r)
    }

    #[test]
    fn csv_has_one_row_per_app_per_tick_and_quotes_what_it_must() {
        let (_d, s) = store();
        let (csv, r) = export(&s, ExportFormat::Csv, None);
        assert_eq!(
            csv,
            "timestamp,host,app,bytes_in,bytes_out\n\
             2026-11-02T09:00:00Z,mac,Slack,10,2\n\
             2026-11-02T09:01:00Z,mac,'=cmd,1,1\n\
             2026-11-02T09:01:00Z,mac,\"Helper, \"\"beta\"\"\",7,0\n\
             2026-11-02T09:01:00Z,mac,Slack,5,1\n"
        );
        assert_eq!(r, ExportReport { ticks: 3, rows: 4 });
        let (csv, r) = export(&s, ExportFormat::Csv, Some("Slack"));
        assert_eq!(csv.lines().count(), 3);
        assert_eq!(r, ExportReport { ticks: 2, rows: 2 });
    }

    #[test]
    fn ndjson_reads_back_as_the_same_ticks() {
        let (_d, s) = store();
        let (text, r) = export(&s, ExportFormat::Ndjson, None);
        assert_eq!(
            r.ticks, 3,
            "the empty tick is kept: it says the watcher ran"
        );
        let ticks: Vec<Tick> = text.lines().map(|l| Tick::from_json(l).unwrap()).collect();
        let dir = tempfile::tempdir().unwrap();
        let mut other = SqliteStore::open(&dir.path().join("o.sqlite")).unwrap();
        other.write(&ticks).unwrap();
        let day: NaiveDate = "2026-11-02".parse().unwrap();
        assert_eq!(
            other
                .day_totals(&HostFilter::All, day, chrono_tz::UTC)
                .unwrap(),
            s.day_totals(&HostFilter::All, day, chrono_tz::UTC).unwrap()
        );
    }
}
