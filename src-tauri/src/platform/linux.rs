//! Linux: a normal tray icon (AppIndicator, or an XEmbed icon on older
//! trays) whose menu opens on any click, and an ordinary window.

use tauri::menu::MenuItem;
use tauri::tray::TrayIcon;
use tauri::{App, Runtime, WebviewWindow, WebviewWindowBuilder};

/// Tray icons in colour.
pub const TEMPLATE_ICONS: bool = false;

/// AppIndicator shows the menu on every click; there is no left click to use.
pub const LEFT_CLICK_OPENS_WINDOW: bool = false;

pub fn setup<R: Runtime>(_app: &mut App<R>) {}

/// Today's totals. AppIndicator has no tooltip, and a panel label is
/// shown by few desktops, so the glance is the menu's first line.
pub fn show_glance<R: Runtime>(_tray: &TrayIcon<R>, item: &MenuItem<R>, text: &str) {
    if let Err(e) = item.set_text(format!("Today {text}")) {
        tracing::debug!(error = %e, "tray glance");
    }
}

pub fn window<'a, R: Runtime, M: tauri::Manager<R>>(
    builder: WebviewWindowBuilder<'a, R, M>,
) -> WebviewWindowBuilder<'a, R, M> {
    builder.center()
}

pub fn opened<R: Runtime>(_window: &WebviewWindow<R>, _under: Option<tauri::Rect>) {}
