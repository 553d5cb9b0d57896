//! The window's IPC commands (the contract is `ui/src/api.ts`). Each one
//! reads or changes the store through nbi-core and returns its answer as
//! the window reads it; a failure is a message for the window's banner.

use chrono::{NaiveDate, Utc};
use nbi_core::destination::report::{self, Destinations, DestinationsQuery};
use nbi_core::export::{self, ExportFormat, ExportQuery};
use nbi_core::history::{self, Granularity, History, HistoryQuery};
use nbi_core::intel::typical::{self, Learning, TypicalDay};
use nbi_core::store::HostFilter;
use nbi_core::tick::NetworkId;
use nbi_core::view::{self, DayCurve, HistoryEntry, StatusView, VerdictView};
use tauri::async_runtime;
use tauri::ipc::Invoke;
use tauri::{Runtime, State};
use tauri_plugin_dialog::DialogExt;

use crate::state::AppState;

type Answer<T> = Result<T, String>;

/// The commands, for `Builder::invoke_handler`.
pub fn handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        day_curve,
        typical_day,
        verdict,
        learning,
        status,
        pause,
        resume,
        check_now,
        mark_normal,
        new_normal,
        history,
        usage_history,
        destinations,
        networks,
        export_range
    ]
}

/// Longest list of recent days a window may ask for.
const MAX_HISTORY: usize = 366;
const DEFAULT_HISTORY: usize = 30;

fn parse_day(day: &str) -> Answer<NaiveDate> {
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_err(|_| format!("invalid day {day:?}: expected YYYY-MM-DD"))
}

/// The day asked for, or today in the configured time zone.
fn day_or_today(state: &AppState, day: Option<String>) -> Answer<NaiveDate> {
    match day {
        Some(d) => parse_day(&d),
        None => Ok(Utc::now()
            .with_timezone(&state.settings().tz())
            .date_naive()),
    }
}

fn step(step_min: u32) -> Answer<u32> {
    if (1..=60).contains(&step_min) {
        Ok(step_min)
    } else {
        Err(format!(
            "invalid step of {step_min} minutes: expected 1 to 60"
        ))
    }
}

#[tauri::command]
async fn day_curve(
    state: State<'_, AppState>,
    day: Option<String>,
    step_min: u32,
) -> Answer<DayCurve> {
    let day = day_or_today(&state, day)?;
    let step = step(step_min)?;
    state
        .with_store(move |store, s| {
            view::day_curve(store, s.host(), day, s.tz(), step, Utc::now())
                .map_err(|e| e.to_string())
        })
        .await
}

#[tauri::command]
async fn typical_day(
    state: State<'_, AppState>,
    day: Option<String>,
    step_min: u32,
) -> Answer<TypicalDay> {
    let day = day_or_today(&state, day)?;
    let step = step(step_min)?;
    state
        .with_store(move |store, s| {
            typical::typical_day(store, s.host(), day, s.tz(), s.intel(), step)
                .map_err(|e| e.to_string())
        })
        .await
}

/// The verdict of `day`, or of the last judged day; null when there is none.
#[tauri::command]
async fn verdict(state: State<'_, AppState>, day: Option<String>) -> Answer<Option<VerdictView>> {
    let day = day.as_deref().map(parse_day).transpose()?;
    state
        .with_store(move |store, s| view::verdict(store, s.host(), day).map_err(|e| e.to_string()))
        .await
}

/// How far learning has come for today's kind of day (the next to be judged).
#[tauri::command]
async fn learning(state: State<'_, AppState>) -> Answer<Learning> {
    let today = day_or_today(&state, None)?;
    state
        .with_store(move |store, s| {
            typical::learning(store, s.host(), today, s.tz(), s.intel()).map_err(|e| e.to_string())
        })
        .await
}

#[tauri::command]
async fn status(state: State<'_, AppState>) -> Answer<StatusView> {
    state.refresh_plan().await;
    Ok(state.status_view())
}

#[tauri::command]
async fn pause(state: State<'_, AppState>) -> Answer<StatusView> {
    state.pause().await
}

#[tauri::command]
async fn resume(state: State<'_, AppState>) -> Answer<StatusView> {
    state.resume().await
}

#[tauri::command]
async fn check_now(state: State<'_, AppState>) -> Answer<VerdictView> {
    state.check_now().await
}

#[tauri::command]
async fn mark_normal(state: State<'_, AppState>, day: String) -> Answer<VerdictView> {
    let day = parse_day(&day)?;
    state.mark_normal(day).await
}

/// "This is my new normal" from `day`: answers with that day's verdict,
/// which now keeps the change.
#[tauri::command]
async fn new_normal(state: State<'_, AppState>, day: String) -> Answer<VerdictView> {
    let day = parse_day(&day)?;
    state.new_normal(day).await
}

#[tauri::command]
async fn history(state: State<'_, AppState>, limit: Option<usize>) -> Answer<Vec<HistoryEntry>> {
    let limit = limit.unwrap_or(DEFAULT_HISTORY).min(MAX_HISTORY);
    state
        .with_store(move |store, s| {
            view::history(store, s.host(), limit).map_err(|e| e.to_string())
        })
        .await
}

fn granularity(by: &str) -> Answer<Granularity> {
    match by {
        "day" => Ok(Granularity::Day),
        "month" => Ok(Granularity::Month),
        _ => Err(format!(
            "invalid period {by:?}: expected \"day\" or \"month\""
        )),
    }
}

/// Local days `from..=to`, checked.
fn range(from: &str, to: &str) -> Answer<(NaiveDate, NaiveDate)> {
    let (from, to) = (parse_day(from)?, parse_day(to)?);
    if from > to {
        return Err(format!("the range {from} to {to} ends before it starts"));
    }
    Ok((from, to))
}

/// Per-app bytes by day or month over `from..=to` (`nbi history --json`).
#[tauri::command]
async fn usage_history(
    state: State<'_, AppState>,
    from: String,
    to: String,
    by: String,
    app: Option<String>,
    network: Option<String>,
) -> Answer<History> {
    let (from, to) = range(&from, &to)?;
    let by = granularity(&by)?;
    let network = network
        .map(|n| NetworkId::new(n).map_err(|e| e.to_string()))
        .transpose()?;
    state
        .with_store(move |store, s| {
            let query = HistoryQuery {
                host: HostFilter::One(s.host().to_string()),
                from,
                to,
                by,
                app,
                network,
            };
            history::read(store, &query, s.tz()).map_err(|e| e.to_string())
        })
        .await
}

/// Per app, where its bytes went over `from..=to`, named
/// (`nbi destinations --json`).
#[tauri::command]
async fn destinations(
    state: State<'_, AppState>,
    from: String,
    to: String,
    app: Option<String>,
) -> Answer<Destinations> {
    let (from, to) = range(&from, &to)?;
    state
        .with_store(move |store, s| {
            let query = DestinationsQuery {
                host: HostFilter::One(s.host().to_string()),
                from,
                to,
                app,
            };
            let names = s.rt.names();
            report::read(store, &query, s.tz(), &s.intel().names, names.as_ref())
                .map_err(|e| e.to_string())
        })
        .await
}

/// The networks bytes went over in `from..=to`, with their bytes
/// (`nbi networks --json`).
#[tauri::command]
async fn networks(
    state: State<'_, AppState>,
    from: String,
    to: String,
) -> Answer<nbi_core::network::report::Networks> {
    let (from, to) = range(&from, &to)?;
    state
        .with_store(move |store, s| {
            let host = HostFilter::One(s.host().to_string());
            nbi_core::network::report::networks(store, &host, from, to, s.tz())
                .map_err(|e| e.to_string())
        })
        .await
}

/// Where an export went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Exported {
    pub path: String,
    /// Lines written after a CSV header; NDJSON lines (ticks).
    pub rows: u64,
}

/// Asks where to save the range (a native save dialog) and writes it
/// there; `None` when the person cancels.
#[tauri::command]
async fn export_range<R: Runtime>(
    handle: tauri::AppHandle<R>,
    state: State<'_, AppState>,
    from: String,
    to: String,
    format: String,
    app: Option<String>,
    network: Option<String>,
) -> Answer<Option<Exported>> {
    let app_name = app;
    let (from, to) = range(&from, &to)?;
    let network = network
        .map(|n| NetworkId::new(n).map_err(|e| e.to_string()))
        .transpose()?;
    let format = match format.as_str() {
        "csv" => ExportFormat::Csv,
        "ndjson" => ExportFormat::Ndjson,
        _ => {
            return Err(format!(
                "invalid format {format:?}: expected \"csv\" or \"ndjson\""
            ))
        }
    };
    let mut name = format!("nbi_{from}_{to}");
    for part in [app_name.as_deref(), network.as_ref().map(NetworkId::as_str)]
        .into_iter()
        .flatten()
    {
        name.push('_');
        name.push_str(&file_safe(part));
    }
    let name = format!("{name}.{}", format.extension());
    let dialog = handle
        .dialog()
        .file()
        .set_file_name(&name)
        .add_filter(format.extension().to_uppercase(), &[format.extension()]);
    let chosen = async_runtime::spawn_blocking(move || dialog.blocking_save_file())
        .await
        .map_err(|e| format!("the save dialog failed: {e}"))?;
    let Some(path) = chosen.and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    state
        .with_store(move |store, s| {
            let query = ExportQuery {
                host: HostFilter::One(s.host().to_string()),
                from,
                to,
                app: app_name,
                network,
            };
            write_export(store, &query, s.tz(), format, &path)
        })
        .await
        .map(Some)
}

/// Writes the export to `path` (whole or not at all, see [`export::to_file`]).
fn write_export(
    store: &dyn nbi_core::store::UsageQuery,
    query: &ExportQuery,
    tz: chrono_tz::Tz,
    format: ExportFormat,
    path: &std::path::Path,
) -> Answer<Exported> {
    let report = export::to_file(path, |out| export::write(store, query, tz, format, out))
        .map_err(|e| e.to_string())?;
    Ok(Exported {
        path: path.display().to_string(),
        rows: match format {
            ExportFormat::Csv => report.rows,
            ExportFormat::Ndjson => report.ticks,
        },
    })
}

/// An app name as part of a file name.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_steps_are_checked() {
        assert_eq!(
            parse_day("2026-07-13").unwrap(),
            NaiveDate::from_ymd_opt(2026, 7, 13).unwrap()
        );
        for bad in ["2026-02-30", "13.07.2026", "", "2026-07-13T00:00"] {
            assert!(parse_day(bad).unwrap_err().contains("YYYY-MM-DD"), "{bad}");
        }
        assert!(step(0).is_err() && step(61).is_err());
        assert_eq!(step(5), Ok(5));
    }

    #[test]
    fn an_export_is_written_whole_or_not_at_all() {
        use nbi_core::store::sqlite::SqliteStore;
        use nbi_core::store::TickWriter;
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        let at = "2026-11-02T09:00:00Z".parse().unwrap();
        store
            .write(&[nbi_core::Tick::from_totals(
                "mac",
                at,
                60,
                [("Slack".to_string(), (10u64, 2u64))],
            )])
            .unwrap();
        let day = parse_day("2026-11-02").unwrap();
        let query = ExportQuery {
            host: HostFilter::One("mac".into()),
            from: day,
            to: day,
            app: None,
            network: None,
        };
        let path = dir.path().join("out.csv");
        let done = write_export(&store, &query, chrono_tz::UTC, ExportFormat::Csv, &path).unwrap();
        assert_eq!(done.rows, 1);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "timestamp,host,app,bytes_in,bytes_out\n2026-11-02T09:00:00Z,mac,Slack,10,2\n"
        );
        let nowhere = dir.path().join("missing/out.csv");
        let err =
            write_export(&store, &query, chrono_tz::UTC, ExportFormat::Csv, &nowhere).unwrap_err();
        assert!(err.contains("missing/out.csv"), "{err}");
        assert_eq!(file_safe("Google Chrome/Helper"), "Google_Chrome_Helper");
        assert_eq!(
            range("2026-11-02", "2026-11-01").unwrap_err(),
            "the range 2026-11-02 to 2026-11-01 ends before it starts"
        );
    }
}
