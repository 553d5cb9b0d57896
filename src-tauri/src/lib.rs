//! The tray app: a thin shell that wires nbi-core (source, bus, collector,
//! store, nightly judging) to a tray icon and menu, a window created on
//! demand, native notifications and the window's commands.

pub mod commands;
mod logging;
mod platform;
pub mod settings;
pub mod state;
mod tray;
mod window;

use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use nbi_core::config::Config;
use nbi_core::source::SourceState;
use nbi_core::view::{self, TrayState};
use tauri::{async_runtime, AppHandle, Emitter, Manager, RunEvent, Runtime};
use tauri_plugin_autostart::MacosLauncher;

use settings::Settings;
use state::{AppEvent, AppState};
use tray::{Look, Tray};

/// New data in the store: the window refetches.
pub const EVENT_UPDATED: &str = "nbi://updated";
/// The watcher's status changed (payload: the status).
pub const EVENT_STATUS: &str = "nbi://status";
pub use window::{LABEL as WINDOW, SHOW_DAY as EVENT_SHOW_DAY};

/// At most one refresh of the window and the tray per this, however fast
/// ticks arrive (a replay).
const THROTTLE: Duration = Duration::from_secs(1);
/// The glance is refreshed at least this often (today turns into tomorrow).
const GLANCE_EVERY: Duration = Duration::from_secs(60);

/// The app's configuration, permissions and embedded webview.
pub fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// Settings from the configuration and the environment; when they cannot
/// be used the app still starts, says why in its status and its icon, and
/// watches nothing.
fn settings() -> Result<(Settings, Option<String>), String> {
    match Settings::from_env() {
        Ok(s) => Ok((s, None)),
        Err(e) => {
            let reason = format!("{e:#}");
            Settings::new(Config::default(), None)
                .map(|s| (s, Some(reason.clone())))
                .map_err(|_| reason)
        }
    }
}

/// `nbi-app --show` opens the window as it starts (from a launcher, or for
/// WebDriver, which needs a webview to attach to); otherwise it starts in
/// the tray alone.
pub fn run() -> ExitCode {
    platform::prepare_environment();
    let show = std::env::args().skip(1).any(|a| a == "--show");
    let (settings, problem) = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nbi-app: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = tauri::Builder::default()
        // First: a second launch only opens the first one's window.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            if let Err(e) = window::open(app, None, None) {
                tracing::warn!(error = %e, "cannot open the window");
            }
        }))
        .plugin(tauri_plugin_autostart::init(
            MacosLauncher::LaunchAgent,
            None,
        ))
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .manage(AppState::new(settings, problem))
        .invoke_handler(commands::handler())
        .setup(move |app| {
            let log = app
                .path()
                .app_log_dir()
                .ok()
                .and_then(|dir| logging::init(&dir));
            tracing::info!(log = ?log, version = env!("CARGO_PKG_VERSION"), "starting");
            platform::setup(app);
            nbi_core::notify::send_as(&app.config().identifier);
            let state = app.state::<AppState>();
            if let Some(reason) = &state.status_view().reason {
                tracing::error!(%reason, "not watching");
            }
            let tray = tray::build(app.handle())?;
            state.start();
            follow(app.handle().clone(), tray);
            if show {
                window::open(app.handle(), None, None)?;
            }
            Ok(())
        })
        .build(context());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("nbi-app: {e}");
            return ExitCode::FAILURE;
        }
    };
    app.run(|_app, event| {
        // Closing the window is not quitting: the app lives in the tray.
        if let RunEvent::ExitRequested {
            code: None, api, ..
        } = event
        {
            api.prevent_exit();
        }
    });
    ExitCode::SUCCESS
}

/// Keeps the window and the tray up to date with the pipeline: the status
/// as it changes, the curve and the glance as ticks are stored, the icon as
/// verdicts come; opens the window when a notification is clicked.
fn follow<R: Runtime>(app: AppHandle<R>, tray: Tray<R>) {
    async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let mut status = state.subscribe_status();
        let mut stored = state.subscribe_stored();
        let mut events = state.subscribe_events();
        let mut every = tokio::time::interval(GLANCE_EVERY);
        let mut source = status.borrow_and_update().clone();
        let (mut glance, mut last, _) = read_tray_facts(&state).await;
        loop {
            tray.show(Look {
                state: TrayState::of(&source.state, last.as_ref()),
                paused: source.state == SourceState::Paused,
                glance: glance.clone(),
                note: source.mode_note.clone(),
            });
            let mut data = false;
            tokio::select! {
                r = status.changed() => {
                    if r.is_err() { break; }
                    source = status.borrow_and_update().clone();
                    emit(&app, EVENT_STATUS, state.status_view());
                    continue;
                }
                r = stored.changed() => {
                    if r.is_err() { break; }
                    tokio::time::sleep(THROTTLE).await;
                    stored.borrow_and_update();
                    data = true;
                }
                e = events.recv() => match e {
                    Ok(AppEvent::ShowDay(day)) => {
                        if let Err(e) = window::open(&app, Some(day), None) {
                            tracing::warn!(error = %e, "cannot open the window");
                        }
                        continue;
                    }
                    Ok(AppEvent::Verdicts) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => data = true,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                _ = every.tick() => {}
            }
            let plan_changed;
            (glance, last, plan_changed) = read_tray_facts(&state).await;
            if plan_changed {
                emit(&app, EVENT_STATUS, state.status_view());
            }
            if data {
                emit(&app, EVENT_UPDATED, ());
            }
        }
    });
}

fn emit<R: Runtime, S: serde::Serialize + Clone>(app: &AppHandle<R>, event: &str, payload: S) {
    if let Err(e) = app.emit(event, payload) {
        tracing::debug!(event, error = %e, "emit");
    }
}

/// Today's totals and the last verdict, for the tray.
/// Today's glance (with the plan) and the last verdict, read together; the
/// plan's usage is kept in the state for the status. The last of the three
/// says whether the plan's usage changed.
async fn read_tray_facts(
    state: &AppState,
) -> (
    Option<view::Glance>,
    Option<nbi_core::store::VerdictRecord>,
    bool,
) {
    let read = state
        .with_store(|store, s| {
            let plans = state::plans_and_network(&s.rt, store)?;
            let glance = view::glance(store, s.host(), s.tz(), Utc::now())
                .map_err(|e| e.to_string())?
                .with_plan(view::plan_in_use(&plans.0, plans.1.as_ref()))
                .with_network(plans.1.as_ref());
            let last = store
                .recent_verdicts(s.host(), 1)
                .map_err(|e| e.to_string())?
                .into_iter()
                .next();
            Ok((glance, last, plans))
        })
        .await;
    match read {
        Ok((g, last, plans)) => (Some(g), last, state.set_plans(plans)),
        Err(e) => {
            tracing::warn!(error = %e, "reading today's totals");
            (None, None, false)
        }
    }
}
