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

/// Variables that name the messages locale, strongest first.
const LOCALE_VARS: [&str; 3] = ["LC_ALL", "LC_MESSAGES", "LANG"];

/// Run first, before any thread starts. WebKitGTK takes the page's
/// language from the locale; under the C or POSIX locale (containers,
/// minimal installs, services) it reports "C", which is no language tag,
/// and the chart library's number formatting throws on it: the window
/// would stay blank. Such a locale becomes English for the app.
pub fn prepare_environment() {
    let values = LOCALE_VARS.map(|k| std::env::var(k).ok());
    if !is_c_locale(&values) {
        return;
    }
    for (key, value) in LOCALE_VARS.iter().zip(&values) {
        if value.as_deref().is_some_and(|v| !v.is_empty()) {
            std::env::remove_var(key);
        }
    }
    std::env::set_var("LANG", "en_US.UTF-8");
}

/// Whether the effective messages locale (the first set of LC_ALL,
/// LC_MESSAGES, LANG) is none, C or POSIX.
fn is_c_locale(values: &[Option<String>; 3]) -> bool {
    let effective = values
        .iter()
        .flatten()
        .find(|v| !v.is_empty())
        .map(String::as_str)
        .unwrap_or("C");
    effective == "C" || effective == "POSIX" || effective.starts_with("C.")
}

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

#[cfg(test)]
mod tests {
    use super::is_c_locale;

    fn vars(all: Option<&str>, messages: Option<&str>, lang: Option<&str>) -> [Option<String>; 3] {
        [all, messages, lang].map(|v| v.map(str::to_string))
    }

    #[test]
    fn c_and_posix_locales_are_told_from_real_languages() {
        assert!(is_c_locale(&vars(None, None, None)));
        assert!(is_c_locale(&vars(None, None, Some("C.UTF-8"))));
        assert!(is_c_locale(&vars(Some("POSIX"), None, Some("de_DE.UTF-8"))));
        assert!(is_c_locale(&vars(Some(""), None, Some("C"))));
        assert!(!is_c_locale(&vars(None, None, Some("de_DE.UTF-8"))));
        assert!(!is_c_locale(&vars(None, Some("fr_FR"), Some("C.UTF-8"))));
        assert!(!is_c_locale(&vars(None, None, Some("ca_ES.UTF-8"))));
    }
}
