//! The window's IPC commands (the contract is `ui/src/api.ts`). Each one
//! reads or changes the store through nbi-core and returns its answer as
//! the window reads it; a failure is a message for the window's banner.

use chrono::{NaiveDate, Utc};
use nbi_core::intel::typical::{self, Learning, TypicalDay};
use nbi_core::view::{self, DayCurve, HistoryEntry, StatusView, VerdictView};
use tauri::ipc::Invoke;
use tauri::{Runtime, State};

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
        history
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
fn status(state: State<'_, AppState>) -> StatusView {
    state.status_view()
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

#[tauri::command]
async fn history(state: State<'_, AppState>, limit: Option<usize>) -> Answer<Vec<HistoryEntry>> {
    let limit = limit.unwrap_or(DEFAULT_HISTORY).min(MAX_HISTORY);
    state
        .with_store(move |store, s| {
            view::history(store, s.host(), limit).map_err(|e| e.to_string())
        })
        .await
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
}
