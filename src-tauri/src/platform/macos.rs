//! macOS: no Dock icon, a template icon the menu bar tints, today's totals
//! as the icon's title, and a borderless window under the icon that closes
//! when it loses focus.

use tauri::menu::MenuItem;
use tauri::tray::TrayIcon;
use tauri::{
    ActivationPolicy, App, PhysicalPosition, Runtime, WebviewWindow, WebviewWindowBuilder,
    WindowEvent,
};

pub const TEMPLATE_ICONS: bool = true;

/// Left click opens the window; the menu is on the right click.
pub const LEFT_CLICK_OPENS_WINDOW: bool = true;

/// Nothing to prepare: WebKit on macOS takes the language from the system.
pub fn prepare_environment() {}

pub fn setup<R: Runtime>(app: &mut App<R>) {
    app.set_activation_policy(ActivationPolicy::Accessory);
}

pub fn show_glance<R: Runtime>(tray: &TrayIcon<R>, item: &MenuItem<R>, text: &str) {
    let _ = tray.set_title(Some(text));
    let _ = item.set_text(format!("Today {text}"));
}

pub fn window<'a, R: Runtime, M: tauri::Manager<R>>(
    builder: WebviewWindowBuilder<'a, R, M>,
) -> WebviewWindowBuilder<'a, R, M> {
    builder
        .decorations(false)
        .always_on_top(true)
        .skip_taskbar(true)
}

/// Puts the window under the tray icon and closes it when it loses focus.
pub fn opened<R: Runtime>(window: &WebviewWindow<R>, under: Option<tauri::Rect>) {
    if let (Some(rect), Ok(scale), Ok(size)) = (under, window.scale_factor(), window.outer_size()) {
        let pos = rect.position.to_physical::<f64>(scale);
        let icon = rect.size.to_physical::<f64>(scale);
        let x = pos.x + icon.width / 2.0 - f64::from(size.width) / 2.0;
        let _ = window.set_position(PhysicalPosition::new(x.max(0.0), pos.y + icon.height));
    }
    let w = window.clone();
    window.on_window_event(move |event| {
        if let WindowEvent::Focused(false) = event {
            let _ = w.close();
        }
    });
}
