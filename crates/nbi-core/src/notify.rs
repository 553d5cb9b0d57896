//! Native notifications: Notification Center on macOS, the desktop's
//! notification daemon (D-Bus) on Linux.

/// The application name notifications are sent under.
pub const APP_NAME: &str = "Network Behavior Intelligence";

/// What a notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(
        "cannot show a notification: {0} (is a notification service running in this session?)"
    )]
    Unavailable(String),
}

/// Sends later notifications as the app with this bundle identifier, so
/// that macOS shows them under its name and icon (elsewhere the application
/// name is enough). Called once, as the app starts.
pub fn send_as(bundle_identifier: &str) {
    #[cfg(target_os = "macos")]
    if let Err(e) = notify_rust::set_application(bundle_identifier) {
        tracing::warn!(error = ?e, bundle_identifier, "notifications may come from another app");
    }
    #[cfg(not(target_os = "macos"))]
    let _ = bundle_identifier;
}

/// Shows `notice` now. Fails, rather than blocking, when no notification
/// service answers (a headless server, no D-Bus session).
pub fn send(notice: &Notice) -> Result<(), NotifyError> {
    build(notice)
        .show()
        .map(|_| ())
        .map_err(|e| NotifyError::Unavailable(e.to_string()))
}

/// Shows `notice` and calls `on_click` if the person clicks it, where the
/// platform reports clicks (the desktop's notification service on Linux;
/// macOS opens the app instead).
pub fn send_clickable(
    notice: &Notice,
    on_click: impl FnOnce() + Send + 'static,
) -> Result<(), NotifyError> {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let mut n = build(notice);
        // "default" is the action a click on the notification itself invokes.
        n.action("default", "Show the day");
        let handle = n
            .show()
            .map_err(|e| NotifyError::Unavailable(e.to_string()))?;
        // The wait blocks until the notification is clicked or closed.
        std::thread::Builder::new()
            .name("notification".into())
            .spawn(move || {
                handle.wait_for_action(|action| {
                    if action == "default" {
                        on_click();
                    }
                })
            })
            .map(|_| ())
            .map_err(|e| NotifyError::Unavailable(e.to_string()))
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        drop(on_click);
        send(notice)
    }
}

fn build(notice: &Notice) -> notify_rust::Notification {
    let mut n = notify_rust::Notification::new();
    n.appname(APP_NAME)
        .summary(&notice.title)
        .body(&body_text(&notice.body))
        .timeout(notify_rust::Timeout::Milliseconds(15_000));
    #[cfg(all(unix, not(target_os = "macos")))]
    n.hint(notify_rust::Hint::Category("network".to_string()));
    n
}

/// The body as the platform shows it. The desktop notification
/// specification lets servers read the body as markup (`<b>`, `<a href>`,
/// `&amp;`): an app's name is text, so on Linux `&`, `<` and `>` are
/// escaped (macOS shows the body as plain text already). Long bodies are
/// cut: a name of a kilobyte is no notification.
pub fn body_text(body: &str) -> String {
    let cut = crate::human::cut(body, MAX_BODY);
    if cfg!(all(unix, not(target_os = "macos"))) {
        cut.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    } else {
        cut.into_owned()
    }
}

/// Characters of a notification's body at most.
const MAX_BODY: usize = 400;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_an_app_name_is_shown_as_text() {
        let body = body_text("Tue 14 Jul: <b>Evil</b> & <a href=\"x\">co</a> 03:00–04:00, 2 GB");
        if cfg!(all(unix, not(target_os = "macos"))) {
            assert_eq!(
                body,
                "Tue 14 Jul: &lt;b&gt;Evil&lt;/b&gt; &amp; &lt;a href=\"x\"&gt;co&lt;/a&gt; 03:00–04:00, 2 GB"
            );
        }
        assert!(body_text(&"x".repeat(5000)).chars().count() <= MAX_BODY + 1);
    }
}
