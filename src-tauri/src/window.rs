//! The window under the tray icon. It is created when opened and destroyed
//! when closed, so an idle app holds no webview (and no WebKit processes).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder, WindowEvent};

use crate::platform;

pub const LABEL: &str = "main";
pub const SHOW_DAY: &str = "nbi://show-day";

/// When the window was last destroyed: a click on the tray icon that
/// closed it by taking its focus must not open it again at once.
static CLOSED_AT: Mutex<Option<Instant>> = Mutex::new(None);
const REOPEN_GUARD: Duration = Duration::from_millis(300);

/// Shows the window (creating it), on `day` when given, else today.
pub fn open<R: Runtime>(
    app: &AppHandle<R>,
    day: Option<NaiveDate>,
    under: Option<tauri::Rect>,
) -> tauri::Result<()> {
    if let Some(w) = app.get_webview_window(LABEL) {
        if let Some(day) = day {
            w.emit(SHOW_DAY, day.to_string())?;
        }
        w.unminimize()?;
        w.show()?;
        return w.set_focus();
    }
    let page = match day {
        Some(d) => format!("index.html?day={d}"),
        None => "index.html".to_string(),
    };
    let builder = WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App(page.clone().into()))
        .title(nbi_core::notify::APP_NAME)
        .inner_size(380.0, 600.0)
        .min_inner_size(320.0, 420.0)
        .visible(false);
    let window = platform::window(builder).build()?;
    window.on_window_event(|event| {
        if let WindowEvent::Destroyed = event {
            *CLOSED_AT.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            tracing::debug!("window closed");
        }
    });
    platform::opened(&window, under);
    window.show()?;
    window.set_focus()?;
    tracing::debug!(%page, "window opened");
    Ok(())
}

/// Opens the window, or closes it when it is open (a click on the tray icon).
pub fn toggle<R: Runtime>(app: &AppHandle<R>, under: Option<tauri::Rect>) -> tauri::Result<()> {
    if let Some(w) = app.get_webview_window(LABEL) {
        return w.close();
    }
    let just_closed = CLOSED_AT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some_and(|t| t.elapsed() < REOPEN_GUARD);
    if just_closed {
        return Ok(());
    }
    open(app, None, under)
}
