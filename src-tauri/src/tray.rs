//! The tray icon and its menu: Today's usage, Check now, Pause/Resume
//! watching, Open Grafana, Launch at login, Quit. The icon tells whether
//! all is well, watching is paused, the source is failing, or the last day
//! was unusual; the glance says how much went in and out today.

use std::sync::Mutex;

use nbi_core::view::{Glance, TrayState};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_opener::OpenerExt as _;

use crate::platform;
use crate::state::AppState;
use crate::window;

const ID: &str = "nbi";

mod item {
    pub const GLANCE: &str = "glance";
    pub const TODAY: &str = "today";
    pub const CHECK: &str = "check";
    pub const PAUSE: &str = "pause";
    pub const GRAFANA: &str = "grafana";
    pub const AUTOSTART: &str = "autostart";
    pub const QUIT: &str = "quit";
}

/// What the tray shows now, so that only changes reach the desktop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Look {
    pub state: TrayState,
    pub paused: bool,
    pub glance: Option<Glance>,
    /// Why the source sees less than it could (the Linux source counting
    /// TCP only), for the tooltip.
    pub note: Option<String>,
}

pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    glance: MenuItem<R>,
    pause: MenuItem<R>,
    shown: Mutex<Option<Look>>,
}

fn icon_bytes(state: TrayState, template: bool) -> &'static [u8] {
    match (state, template) {
        (TrayState::Normal, false) => include_bytes!("../../icons/tray/normal.png"),
        (TrayState::Paused, false) => include_bytes!("../../icons/tray/paused.png"),
        (TrayState::Failing, false) => include_bytes!("../../icons/tray/failing.png"),
        (TrayState::Anomalous, false) => include_bytes!("../../icons/tray/anomalous.png"),
        (TrayState::Normal, true) => include_bytes!("../../icons/tray/normal-template.png"),
        (TrayState::Paused, true) => include_bytes!("../../icons/tray/paused-template.png"),
        (TrayState::Failing, true) => include_bytes!("../../icons/tray/failing-template.png"),
        (TrayState::Anomalous, true) => include_bytes!("../../icons/tray/anomalous-template.png"),
    }
}

fn icon(state: TrayState) -> tauri::Result<Image<'static>> {
    Image::from_bytes(icon_bytes(state, platform::TEMPLATE_ICONS))
}

pub fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Tray<R>> {
    let state = app.state::<AppState>();
    let grafana_url = state.settings().grafana_url().map(str::to_string);
    let glance = MenuItem::with_id(app, item::GLANCE, "Today", false, None::<&str>)?;
    let today = MenuItem::with_id(app, item::TODAY, "Today's usage…", true, None::<&str>)?;
    let check = MenuItem::with_id(app, item::CHECK, "Check now", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, item::PAUSE, "Pause watching", true, None::<&str>)?;
    let grafana = match &grafana_url {
        Some(_) => MenuItem::with_id(app, item::GRAFANA, "Open Grafana", true, None::<&str>)?,
        None => MenuItem::with_id(
            app,
            item::GRAFANA,
            "Open Grafana (set ui.grafana_url in the config)",
            false,
            None::<&str>,
        )?,
    };
    let login = app.autolaunch().is_enabled().unwrap_or(false);
    let autostart = CheckMenuItem::with_id(
        app,
        item::AUTOSTART,
        "Launch at login",
        true,
        login,
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(app, item::QUIT, "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &glance,
            &PredefinedMenuItem::separator(app)?,
            &today,
            &check,
            &pause,
            &PredefinedMenuItem::separator(app)?,
            &grafana,
            &autostart,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let autostart_item = autostart.clone();
    let icon = TrayIconBuilder::with_id(ID)
        .icon(icon(TrayState::Normal)?)
        .icon_as_template(platform::TEMPLATE_ICONS)
        .tooltip(nbi_core::notify::APP_NAME)
        .menu(&menu)
        .show_menu_on_left_click(!platform::LEFT_CLICK_OPENS_WINDOW)
        .on_menu_event(move |app, event| {
            on_menu(app, event, &autostart_item, grafana_url.as_deref())
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                rect,
                ..
            } = event
            {
                if platform::LEFT_CLICK_OPENS_WINDOW {
                    if let Err(e) = window::toggle(tray.app_handle(), Some(rect)) {
                        tracing::warn!(error = %e, "cannot open the window");
                    }
                }
            }
        })
        .build(app)?;
    Ok(Tray {
        icon,
        glance,
        pause,
        shown: Mutex::new(None),
    })
}

fn on_menu<R: Runtime>(
    app: &AppHandle<R>,
    event: MenuEvent,
    autostart: &CheckMenuItem<R>,
    grafana_url: Option<&str>,
) {
    let result: Result<(), String> = match event.id().as_ref() {
        item::TODAY => {
            let under = app.tray_by_id(ID).and_then(|t| t.rect().ok().flatten());
            window::open(app, None, under).map_err(|e| e.to_string())
        }
        item::CHECK => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let state = app.state::<AppState>();
                match state.check_now().await {
                    Ok(v) => {
                        tracing::info!(day = %v.verdict.day, status = %v.verdict.status, "checked")
                    }
                    Err(e) => tracing::warn!(error = %e, "check now failed"),
                }
            });
            Ok(())
        }
        item::PAUSE => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let state = app.state::<AppState>();
                let r = if state.is_paused() {
                    state.resume().await
                } else {
                    state.pause().await
                };
                if let Err(e) = r {
                    tracing::warn!(error = %e, "pause/resume failed");
                }
            });
            Ok(())
        }
        item::GRAFANA => match grafana_url {
            Some(url) => app
                .opener()
                .open_url(url, None::<&str>)
                .map_err(|e| e.to_string()),
            None => Ok(()),
        },
        item::AUTOSTART => {
            let launcher = app.autolaunch();
            let want = !launcher.is_enabled().unwrap_or(false);
            let r = if want {
                launcher.enable()
            } else {
                launcher.disable()
            };
            let now = launcher.is_enabled().unwrap_or(false);
            let _ = autostart.set_checked(now);
            r.map_err(|e| e.to_string())
        }
        item::QUIT => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                app.state::<AppState>().stop().await;
                app.exit(0);
            });
            Ok(())
        }
        _ => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!(item = %event.id().as_ref(), error = %e, "tray menu");
    }
}

impl<R: Runtime> Tray<R> {
    /// Shows `look`, touching only what changed.
    pub fn show(&self, look: Look) {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        let before = shown.clone();
        if before.as_ref().map(|b| b.state) != Some(look.state) {
            match icon(look.state) {
                Ok(img) => {
                    if let Err(e) = self.icon.set_icon(Some(img)) {
                        tracing::warn!(error = %e, "tray icon");
                    }
                    let _ = self.icon.set_icon_as_template(platform::TEMPLATE_ICONS);
                }
                Err(e) => tracing::warn!(error = %e, "tray icon image"),
            }
        }
        if before.as_ref().map(|b| b.paused) != Some(look.paused) {
            let text = if look.paused {
                "Resume watching"
            } else {
                "Pause watching"
            };
            let _ = self.pause.set_text(text);
        }
        let seen = |b: &Look| (b.glance.clone(), b.state, b.note.clone());
        if before.as_ref().map(seen) != Some(seen(&look)) {
            let text = look.glance.as_ref().map(Glance::text).unwrap_or_default();
            let _ = self.icon.set_tooltip(Some(format!(
                "{} — {}{}{}{}",
                nbi_core::notify::APP_NAME,
                look.state.describe(),
                if text.is_empty() { "" } else { ", today " },
                text,
                look.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            )));
            if !text.is_empty() {
                platform::show_glance(&self.icon, &self.glance, &text);
            }
        }
        *shown = Some(look);
    }
}
